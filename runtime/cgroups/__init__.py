"""cgroups: host detection (host.py), path resolution (paths.py), the filesystem
manager that creates, joins and removes a container's cgroups (fs.py)."""
