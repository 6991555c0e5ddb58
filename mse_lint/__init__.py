"""mse-lint: static checks for Python web apps deployed in Cosmian MSE enclaves."""

__version__ = "0.1.0"
