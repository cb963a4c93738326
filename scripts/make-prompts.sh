#!/usr/bin/env bash
# Regenerates the system voice prompts in crates/media/prompts/ (8 kHz mono G.711 µ-law WAV) with espeak-ng and sox.
#
# The files are committed and embedded in the binary by crates/media/src/prompts.rs, so this only needs to run
# when a text changes. Output is deterministic: sox runs without dither (-D), and leading and trailing
# silence is trimmed so the player can put its own gaps between pieces.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v espeak-ng >/dev/null || { echo "make-prompts.sh: espeak-ng is required" >&2; exit 1; }
command -v sox >/dev/null || { echo "make-prompts.sh: sox is required" >&2; exit 1; }

voice="${ESPEAK_VOICE:-en-us}"
speed="${ESPEAK_SPEED:-150}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT

# name|text
prompts=(
    "digit-0|zero"
    "digit-1|one"
    "digit-2|two"
    "digit-3|three"
    "digit-4|four"
    "digit-5|five"
    "digit-6|six"
    "digit-7|seven"
    "digit-8|eight"
    "digit-9|nine"
    "leave-message-for-extension|Please leave a message for extension"
    "after-the-tone|after the tone."
    "enter-extension|Please enter the extension of the person you are calling, followed by the pound key."
    "maximum-length|The maximum message length has been reached. Goodbye."
    "no-mailbox|Sorry, there is no mailbox at that extension."
    "goodbye|Thank you. Goodbye."
    "you-have-reached|You have reached"
)

mkdir -p prompts
for entry in "${prompts[@]}"; do
    name="${entry%%|*}"
    text="${entry#*|}"
    espeak-ng -v "$voice" -s "$speed" -w "$work/$name.wav" "$text"
    # Resample to 8 kHz mono, normalise to -3 dBFS, trim silence at both ends, encode as µ-law.
    sox -D "$work/$name.wav" -r 8000 -c 1 -e u-law -b 8 "crates/media/prompts/$name.wav" \
        gain -n -3 \
        silence 1 0.02 0.5% reverse silence 1 0.02 0.5% reverse
done
ls -l prompts
