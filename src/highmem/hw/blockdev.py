"""A block device with a DMA engine that reaches only low physical memory.

The disk holds real bytes, block by block (sparse: unwritten blocks read as
zeros).  Requests are queued by the kernel and completed one at a time,
oldest first, when the device's interrupt is serviced: the DMA engine copies
between the disk and *physical* memory, then the completion callback runs
in that interrupt's context.

``bounce_pfn`` is the highest frame the DMA engine can address (an ISA
device: 4095, i.e. below 16 MiB).  A transfer beyond it is a hardware
impossibility the kernel must prevent by bouncing; the model raises
:class:`DMAError` for it instead of corrupting memory.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable

from highmem._record import record
from highmem.errors import HighmemError, Oops
from highmem.hw.physmem import PAGE_SHIFT, PhysicalMemory

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

__all__ = ["BlockDevice", "Request", "DMAError"]


class DMAError(Oops):
    """The device was asked to DMA to or from a frame above its ``bounce_pfn``."""


@record
class Request:
    """One queued transfer: ``rw`` READ or WRITE of ``size`` bytes of block ``block`` at ``phys``."""

    rw: str
    block: int
    phys: int
    size: int
    done: Callable[[int], None]
    tag: Any = None


class BlockDevice:
    """A disk: ``nblocks`` blocks of ``block_size`` bytes, a request queue, a DMA limit."""

    def __init__(self, name: str, nblocks: int, block_size: int = 1024, bounce_pfn: int = 4095,
                 irq: str = "ide0", cpu: int = 0) -> None:
        if block_size not in (512, 1024, 2048, 4096):
            raise HighmemError(f"device {name}: block size {block_size} is not 512, 1024, 2048 or 4096")
        if nblocks < 1:
            raise HighmemError(f"device {name}: it needs at least one block")
        self.name = name
        self.nblocks = nblocks
        self.block_size = block_size
        self.bounce_pfn = bounce_pfn
        self.irq = irq
        self.cpu = cpu
        self.blocks: dict[int, bytes] = {}
        self.queue: deque[Request] = deque()
        self.completed = 0
        self.reads = 0
        self.writes = 0

    def read_block(self, block: int) -> bytes:
        """The bytes of ``block`` on the disk."""
        return self.blocks.get(block, bytes(self.block_size))

    def write_block(self, block: int, data: bytes) -> None:
        """Set the bytes of ``block`` on the disk (``data`` padded with zeros)."""
        self.blocks[block] = bytes(data[: self.block_size]).ljust(self.block_size, b"\0")

    def check_request(self, block: int, size: int) -> None:
        if not 0 <= block < self.nblocks:
            raise HighmemError(f"device {self.name}: block {block} does not exist (blocks 0 to {self.nblocks - 1})")
        if size != self.block_size:
            raise HighmemError(f"device {self.name}: a request moves one block of {self.block_size} bytes, "
                               f"not {size}")

    def submit(self, req: Request) -> None:
        """Queue ``req`` (the kernel's make_request)."""
        self.check_request(req.block, req.size)
        self.queue.append(req)

    def ready(self) -> bool:
        """Whether the device has a request it can complete (its interrupt may arrive)."""
        return bool(self.queue)

    def complete_one(self, mem: PhysicalMemory) -> Request:
        """Do the oldest request's DMA and return it; the caller runs its completion."""
        req = self.queue.popleft()
        last = (req.phys + req.size - 1) >> PAGE_SHIFT
        if last > self.bounce_pfn:
            raise DMAError(f"device {self.name} cannot DMA to physical {req.phys:#x}: its limit is frame "
                           f"{self.bounce_pfn:#x} (the buffer should have been bounced)")
        phys = req.phys
        size = req.size
        off = phys & 0xFFF
        if off + size <= 4096:
            # Within one frame (a bounce page always is): the loops below in one piece, with
            # read_block, mem.write, mem.read and write_block inlined.
            frames = mem.frames
            fr = frames.get(phys >> PAGE_SHIFT)
            if req.rw == "READ":
                data = self.blocks.get(req.block)
                if data is None:
                    data = bytes(self.block_size)
                if fr is None:
                    fr = mem.frame(phys >> PAGE_SHIFT)
                chunk = data[:size]
                fr[off : off + len(chunk)] = chunk
                self.reads += 1
            else:
                out = bytes(size) if fr is None else bytes(fr[off : off + size])
                if len(out) == self.block_size:
                    self.blocks[req.block] = out  # what write_block stores for a whole block
                else:
                    self.write_block(req.block, out)
                self.writes += 1
            self.completed += 1
            return req
        if req.rw == "READ":
            data = self.read_block(req.block)
            pos = 0
            while pos < req.size:
                a = req.phys + pos
                n = min(req.size - pos, 4096 - (a & 0xFFF))
                mem.write(a, data[pos : pos + n])
                pos += n
            self.reads += 1
        else:
            out = b""
            pos = 0
            while pos < req.size:
                a = req.phys + pos
                n = min(req.size - pos, 4096 - (a & 0xFFF))
                out += mem.read(a, n)
                pos += n
            self.write_block(req.block, out)
            self.writes += 1
        self.completed += 1
        return req
