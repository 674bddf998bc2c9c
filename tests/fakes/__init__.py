"""Test doubles that speak the real wire formats on 127.0.0.1: provider APIs and a fake clock."""
