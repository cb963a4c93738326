#!/bin/sh
# Makes the known audio the call tests stream with sipp's rtp_stream: a short spoken sentence as raw
# headerless G.711 µ-law at 8 kHz (160 bytes per 20 ms packet), padded with µ-law silence (0xFF)
# to a whole number of packets, so the recording can be compared with it byte for byte.
# Needs espeak-ng and sox (Debian packages). Run from anywhere; writes message.ul beside itself.
set -eu
here=$(cd "$(dirname "$0")" && pwd)
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
espeak-ng -v en-us -s 150 -w "$tmp/speech.wav" \
    "This is a test message for the voice mail of umbox. Please call me back."
sox "$tmp/speech.wav" -t ul -r 8000 -c 1 "$tmp/message.ul"
size=$(stat -c %s "$tmp/message.ul")
pad=$(( (160 - size % 160) % 160 ))
head -c "$pad" /dev/zero | tr '\000' '\377' >> "$tmp/message.ul"
mv "$tmp/message.ul" "$here/message.ul"
echo "message.ul: $(stat -c %s "$here/message.ul") bytes ($(( $(stat -c %s "$here/message.ul") / 8 )) ms)"
