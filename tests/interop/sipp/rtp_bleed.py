#!/usr/bin/env python3
"""RTP from a third address ("RTP bleed"): sends COUNT loud PCMU packets to
HOST PORT from a port of its own, 20 ms apart, with an SSRC and numbers of their own.
A media server that accepted them would put them in the recording."""
import socket
import struct
import sys
import time

host, port, count = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
sock.bind((host, 0))
loud = bytes([0x80, 0x00]) * 80  # alternating µ-law extremes: far above any silence threshold
for n in range(count):
    header = struct.pack("!BBHII", 0x80, 0, n, n * 160, 0x0BADBEEF)
    sock.sendto(header + loud, (host, port))
    time.sleep(0.02)
