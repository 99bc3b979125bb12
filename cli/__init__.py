"""The digitnet command line (click). A thin layer: parse, call the library, print."""
