#!/usr/bin/python3
"""§2, JoinableQueue version: the checks of check-producer-consumer.py, which
also asserts, for a program named joinable-queue, that every Result line
comes after every Exiting line."""

import os
import runpy

runpy.run_path(os.path.join(os.path.dirname(__file__), 'check-producer-consumer.py'),
               run_name='__main__')
