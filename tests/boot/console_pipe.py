"""The guest console as a QEMU pipe chardev that the harness alone reads and writes.

QEMU's `-chardev pipe,path=P` writes the serial port's output to the FIFO P.out and
reads its input from P.in. A thread here copies P.out into a log file as it comes, so
the log holds exactly the bytes the UART sent.

Why not a socket chardev with QEMU's logfile= (what the harness used before): QEMU 7.2
logs a byte again when the socket's buffer is full (the write fails with EAGAIN, gets
logged, and the 16550 model sends the byte once more later), so a harness that read
the socket late saw doubled characters ("afffinity") in the log. A FIFO holds 64 KiB,
the 16550 model waits for it when it is full (it retries once the FIFO is writable),
and nothing but this reader writes the log.
"""
import os
import select
import threading


class ConsolePipe:
    def __init__(self, directory):
        self.base = os.path.join(directory, "console")
        self.log_path = os.path.join(directory, "console.log")
        os.mkfifo(self.base + ".in")
        os.mkfifo(self.base + ".out")
        # Read-write opens never block on a FIFO (Linux's fifo(7)) and keep it open
        # across QEMU's own opens, so neither side sees an early end of file.
        self._out = os.open(self.base + ".out", os.O_RDWR | os.O_NONBLOCK)
        self._in = os.open(self.base + ".in", os.O_RDWR)
        self._log = open(self.log_path, "wb")
        self._lock = threading.Lock()
        self._text = bytearray()
        self._done = threading.Event()
        self._reader = None

    def chardev(self, name):
        """The -chardev option that makes QEMU use these FIFOs."""
        return f"pipe,id={name},path={self.base}"

    def start(self):
        self._reader = threading.Thread(target=self._copy, daemon=True)
        self._reader.start()

    def _copy(self):
        while True:
            ready, _, _ = select.select([self._out], [], [], 0.1)
            chunk = b""
            if ready:
                try:
                    chunk = os.read(self._out, 65536)
                except BlockingIOError:
                    chunk = b""
            if chunk:
                with self._lock:
                    self._text += chunk
                self._log.write(chunk)
                self._log.flush()
            elif self._done.is_set():
                return

    def stop(self):
        """After QEMU has exited: takes what is left in the FIFO and closes everything."""
        self._done.set()
        if self._reader:
            self._reader.join()
        self._log.close()
        os.close(self._out)
        os.close(self._in)

    def text(self):
        with self._lock:
            return self._text.decode(errors="replace")

    def type(self, data):
        os.write(self._in, data)
