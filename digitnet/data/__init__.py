"""The MNIST test set (t10k), shipped so `digitnet evaluate` works out of the box. MNIST: Y. LeCun, C. Cortes, C. J. C. Burges, CC BY-SA 3.0."""
