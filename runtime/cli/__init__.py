"""The command line: runc's argv, flag forms and output. main.py is the entry point."""
