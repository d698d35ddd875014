"""Offline trainer: labelled data → clean → split → fine-tune → evaluate → export → registry.

May import ``monitor`` (schemas, text cleaning, registry); ``monitor`` never imports it.
"""
