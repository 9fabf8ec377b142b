"""Video dataset generators: Stochastic Moving MNIST and synthetic driving with rare events."""
