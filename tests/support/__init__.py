"""Helpers more than one test package needs: free ports, processes found and stopped by recorded pids."""
