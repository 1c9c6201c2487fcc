"""VFIO ioctl requests as strace prints them, resolved by number.

strace has no VFIO decoder and prints colliding numbers with every name joined by
``" or "`` (the order follows its generated table), or — strace 6.1 — only one of them
(``VFIO_EEH_PE_OP`` for 0x3b79, which on a data fd is VFIO_MIG_GET_PRECOPY_INFO). With
``-X raw`` it prints the number, with ``-X verbose`` both, and an unknown code comes out as
``_IOC(_IOC_NONE, 0x3b, 0x75, 0)``. So every form is turned into the number first, and
the meaning is decided by the kind of fd the call is made on.
"""

from __future__ import annotations

from vfio_migcheck.traces.strace.syntax import Arg

VFIO_TYPE = 0x3B
_BASE = 100

# every VFIO ioctl name of include/uapi/linux/vfio.h, by number (all are _IO(';', nr))
_NAMES_BY_OFFSET: dict[int, tuple[str, ...]] = {
    0: ("VFIO_GET_API_VERSION",),
    1: ("VFIO_CHECK_EXTENSION",),
    2: ("VFIO_SET_IOMMU",),
    3: ("VFIO_GROUP_GET_STATUS",),
    4: ("VFIO_GROUP_SET_CONTAINER",),
    5: ("VFIO_GROUP_UNSET_CONTAINER",),
    6: ("VFIO_GROUP_GET_DEVICE_FD",),
    7: ("VFIO_DEVICE_GET_INFO",),
    8: ("VFIO_DEVICE_GET_REGION_INFO",),
    9: ("VFIO_DEVICE_GET_IRQ_INFO",),
    10: ("VFIO_DEVICE_SET_IRQS",),
    11: ("VFIO_DEVICE_RESET",),
    12: ("VFIO_DEVICE_GET_PCI_HOT_RESET_INFO", "VFIO_IOMMU_GET_INFO",
         "VFIO_IOMMU_SPAPR_TCE_GET_INFO"),
    13: ("VFIO_DEVICE_PCI_HOT_RESET", "VFIO_IOMMU_MAP_DMA"),
    14: ("VFIO_DEVICE_QUERY_GFX_PLANE", "VFIO_IOMMU_UNMAP_DMA"),
    15: ("VFIO_DEVICE_GET_GFX_DMABUF", "VFIO_IOMMU_ENABLE"),
    16: ("VFIO_DEVICE_IOEVENTFD", "VFIO_IOMMU_DISABLE"),
    17: ("VFIO_DEVICE_FEATURE", "VFIO_IOMMU_DIRTY_PAGES", "VFIO_IOMMU_SPAPR_REGISTER_MEMORY"),
    18: ("VFIO_DEVICE_BIND_IOMMUFD", "VFIO_IOMMU_SPAPR_UNREGISTER_MEMORY"),
    19: ("VFIO_DEVICE_ATTACH_IOMMUFD_PT", "VFIO_IOMMU_SPAPR_TCE_CREATE"),
    20: ("VFIO_DEVICE_DETACH_IOMMUFD_PT", "VFIO_IOMMU_SPAPR_TCE_REMOVE"),
    21: ("VFIO_EEH_PE_OP", "VFIO_MIG_GET_PRECOPY_INFO"),
}


def _number(offset: int) -> int:
    return (VFIO_TYPE << 8) | (_BASE + offset)


NUMBER_BY_NAME: dict[str, int] = {
    name: _number(offset) for offset, names in _NAMES_BY_OFFSET.items() for name in names
}

GET_DEVICE_FD = _number(6)
DEVICE_RESET = _number(11)
DEVICE_FEATURE = _number(17)
PRECOPY_INFO = _number(21)
GET_GFX_DMABUF = _number(15)

# only a device fd accepts these: seeing one on an unexplained fd identifies a device
DEVICE_ONLY = frozenset({_number(7), _number(8), _number(9), _number(10), DEVICE_RESET})
CONTAINER_ONLY = frozenset({_number(0), _number(1), _number(2)})
GROUP_ONLY = frozenset({_number(3), _number(4), _number(5), GET_DEVICE_FD})

# ioctls whose result is a new fd (VFIO and KVM ones a VMM trace is full of)
FD_RETURNING_NAMES = frozenset({
    "VFIO_GROUP_GET_DEVICE_FD", "VFIO_DEVICE_GET_GFX_DMABUF", "KVM_CREATE_VM",
    "KVM_CREATE_VCPU", "KVM_GET_STATS_FD", "KVM_CREATE_GUEST_MEMFD",
})
FD_RETURNING_NUMBERS = frozenset({GET_DEVICE_FD, GET_GFX_DMABUF, 0xAE01, 0xAE41, 0xAECE,
                                  0xC040AED4})
# ioctls whose new fd comes back inside the argument: "... => {fd=25}"
FD_IN_REPLY_NAMES = frozenset({"KVM_CREATE_DEVICE"})
FD_RETURNING_PREFIXES = (*sorted(FD_RETURNING_NAMES | FD_IN_REPLY_NAMES), "0x", "_IOC",
                         "VFIO_DEVICE_FEATURE", "VFIO_EEH", "VFIO_MIG", "VFIO_DEVICE_RESET")


class Request:
    """An ioctl request argument: its number when known, and the text strace printed."""

    __slots__ = ("number", "text", "names")

    def __init__(self, number: int | None, text: str, names: tuple[str, ...]) -> None:
        self.number = number
        self.text = text
        self.names = names

    def __repr__(self) -> str:
        shown = f"{self.number:#x}" if self.number is not None else "?"
        return f"Request({shown}, {self.text!r})"

    @property
    def is_vfio(self) -> bool:
        return self.number is not None and (self.number >> 8) & 0xFF == VFIO_TYPE \
            and self.number < 0x10000

    def canonical_name(self, kind: str | None) -> str:
        """The one name that fits the fd kind (device, data, container, group)."""
        if self.number is None or not self.is_vfio:
            return self.names[0] if self.names else self.text
        names = _NAMES_BY_OFFSET.get(self.number - _number(0), ())
        if not names:
            return self.text
        if kind == "data" and self.number == PRECOPY_INFO:
            return "VFIO_MIG_GET_PRECOPY_INFO"
        if kind == "container":
            for name in names:
                if name.startswith(("VFIO_IOMMU", "VFIO_EEH")):
                    return name
        for name in names:
            if name.startswith("VFIO_DEVICE") or len(names) == 1:
                return name
        return names[0]


def resolve(arg: Arg) -> Request:
    """Turn the request argument (any -X style) into a :class:`Request`."""
    text = " ".join(_item_text(item) for item in arg)
    names: list[str] = []
    number: int | None = None
    for kind, value, _decor in arg:
        if kind == "w":
            names.extend(n.strip() for n in value.split(" or "))
        elif kind == "n" and number is None and isinstance(value, int):
            number = value
        elif kind == "c":
            names.extend(n.strip() for n in value.split(" or ") if n.strip())
        elif kind == "(" and names and names[-1] == "_IOC":
            names.pop()
            number = _ioc_number(value)
    if number is None:
        for name in names:
            if name in NUMBER_BY_NAME:
                number = NUMBER_BY_NAME[name]
                break
    return Request(number, text, tuple(names))


def _ioc_number(args: list[Arg]) -> int | None:
    """``_IOC(dir, type, nr, size)`` → the request number (dir as _IOC_* names or a number)."""
    if len(args) != 4:
        return None
    direction = 0
    for kind, value, _ in args[0]:
        if kind == "w":
            direction |= {"_IOC_NONE": 0, "_IOC_WRITE": 1, "_IOC_READ": 2}.get(value, 0)
        elif kind == "n" and isinstance(value, int):
            direction |= value
    parts = []
    for part in args[1:]:
        if len(part) != 1 or part[0][0] != "n" or not isinstance(part[0][1], int):
            return None
        parts.append(part[0][1])
    ioc_type, nr, size = parts
    return (direction << 30) | (size << 16) | (ioc_type << 8) | nr


def _item_text(item: tuple) -> str:
    kind, value, decor = item
    if kind == "n":
        return (hex(value) if isinstance(value, int) and value > 255 else str(value)) + (
            f"<{decor}>" if decor else "")
    if kind == "c":
        return f"/* {value} */"
    if kind in ("(", "[", "{"):
        close = {"(": ")", "[": "]", "{": "}"}[kind]
        inner = ", ".join(" ".join(_item_text(i) for i in a) for a in value)
        return f"{kind}{inner}{close}"
    if kind == "...":
        return "..."
    return str(value)
