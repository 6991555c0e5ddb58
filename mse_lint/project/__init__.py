"""The project model: the MSE project a path belongs to (mse.toml, code dir, what ships), the
files a run checks, requirements, the target Python and positions inside TOML files."""
