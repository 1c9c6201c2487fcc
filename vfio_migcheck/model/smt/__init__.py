"""The SMT side of vfio-migcheck: a z3 encoding of a spec and the properties proved over it.

This subpackage is the only place that imports z3, and only ``vfio-migcheck prove`` imports
it, so no other command pays z3's start-up cost. The encoding is compiled from the
:class:`~vfio_migcheck.model.spec.Spec` directly and never consults the networkx model in
``model/fsm.py``: the two are independent compilations, so their agreement is evidence.
"""
