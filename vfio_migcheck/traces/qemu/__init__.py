"""QEMU trace logs (-trace vfio_*): record finding, argument grammar, and the reader."""
