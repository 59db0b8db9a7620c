"""Sigma rules that several test modules use, as YAML text."""

WHOAMI_FROM_WEB_SERVER = r"""
title: Whoami From A Web Server
id: 3c0b9a1e-2d4f-4e6a-9b8c-7d6e5f4a3b2c
logsource: {category: process_creation, product: windows}
detection:
  selection:
    ParentImage|endswith: '\w3wp.exe'
    Image|endswith: '\whoami.exe'
  condition: selection
level: high
"""
"""A web shell's first step: ``whoami`` started by IIS's worker process."""
