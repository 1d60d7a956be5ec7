"""spec + CLI options + host facts -> Plan (plain data, no syscalls). See build.py."""
