"""digitnet: the classic 784-16-16-10 sigmoid network for handwritten digits, made real.

A 28x28 image becomes 784 input activations (brightness 0..1). Every neuron of the next
layer takes a weighted sum of the previous layer's activations, adds its bias and squashes
the result with the sigmoid into 0..1 -- layer after layer, until 10 output neurons; the
brightest one is the answer.

Modules (each small, each importable on its own so the command line loads only what it needs):

- ``network``    the network math: sigmoid, forward pass, backpropagation
- ``weightfile`` the ``.npz`` + ``.json`` weight file format, validated loading, atomic saving
- ``mnist``      reading IDX files, locating the data folder, downloading MNIST
- ``augment``    vectorised random affine distortions of image batches (training only)
- ``training``   mini-batch gradient descent: losses, optimisers, schedules
- ``evaluation`` accuracy, confusion matrix, per-digit precision and recall
- ``images``     any image file -> the network's 784 inputs, the way MNIST was made
- ``render``     terminal and PNG pictures of activations and weights
"""

# Kept literal (not read from package metadata) so that `import digitnet` stays instant.
__version__ = "0.1.0"
