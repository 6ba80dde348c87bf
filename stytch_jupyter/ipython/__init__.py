"""The notebook face: ``%load_ext``, the ``%stytch`` magics, the widget and rich reprs."""
