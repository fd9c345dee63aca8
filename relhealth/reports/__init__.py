"""Reports: the charts (and, later, the PDFs) made from analytics frames.

``charts`` turns metric frames into standalone SVG strings; the web pages inline them and the
PDF reports embed the very same drawings.
"""
