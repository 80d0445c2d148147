"""Captures, as an attacker on the wire would, the first UDP datagram to PORT whose payload is
LENGTH bytes long and whose byte 16 is one of COMMANDS (comma list), seen on interface IFACE
(AF_PACKET, so as root, in the namespace it runs in). Prints the payload as hex, or nothing after
LIMIT seconds.

Usage: capture_udp.py IFACE PORT LENGTH COMMANDS LIMIT
"""
import socket
import struct
import sys
import time

iface, port, length, commands, limit = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4], float(sys.argv[5])
wanted = {int(c, 0) for c in commands.split(",")}
s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.ntohs(0x0003))
s.bind((iface, 0))
s.settimeout(0.2)
print("ready", flush=True)
deadline = time.time() + limit
while time.time() < deadline:
    try:
        frame = s.recv(65535)
    except socket.timeout:
        continue
    if len(frame) < 14 + 20 + 8 or frame[12:14] != b"\x08\x00":
        continue
    ip = frame[14:]
    ihl = (ip[0] & 0x0F) * 4
    if ip[9] != 17:
        continue
    udp = ip[ihl:]
    dport = struct.unpack("!H", udp[2:4])[0]
    payload = udp[8:struct.unpack("!H", udp[4:6])[0]]
    if dport == port and len(payload) == length and payload[16] in wanted:
        print(payload.hex(), flush=True)
        break
