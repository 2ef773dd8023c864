#!/usr/bin/env bash
# Writes the seed inputs (QWP spec digest §7 test vectors plus a few
# variants) into fuzz/seeds/<target>/ and copies them into the (gitignored)
# fuzz/corpus/<target>/. Re-run after editing; it is idempotent.
# Needs only bash and printf; the zstd CLI, if installed, adds one
# compressed RESULT_BATCH seed (a committed copy is already in seeds/).
set -euo pipefail
cd "$(dirname "$0")"

# hex "51 57 ..." -> raw bytes on stdout
hex() { local h; h=$(printf '%s' "$*" | tr -d ' \n\t'); printf "$(printf '%s' "$h" | sed 's/../\\x&/g')"; }
# u32 little-endian hex of a number
le32() { printf '%02x %02x %02x %02x' $(($1 & 255)) $(($1 >> 8 & 255)) $(($1 >> 16 & 255)) $(($1 >> 24 & 255)); }
# len_of "hex ..." -> byte count
len_of() { local h; h=$(printf '%s' "$*" | tr -d ' \n\t'); echo $((${#h} / 2)); }
# frame FLAGS TABLE_COUNT PAYLOAD_HEX -> QWP header + payload, as hex
frame() { printf '51 57 50 31 01 %s %02x 00 %s %s' "$1" "$2" "$(le32 "$(len_of "$3")")" "$3"; }
# seed TARGET NAME HEX
seed() { mkdir -p "seeds/$1"; hex "$3" > "seeds/$1/$2"; }

# Common pieces.
SENSORS="07 73 65 6E 73 6F 72 73"
SQL="53 45 4C 45 43 54 20 69 64 2C 20 76 61 6C 75 65 20 46 52 4F 4D 20 73 65 6E 73 6F 72 73 20 4C 49 4D 49 54 20 32"
T0="00 40 1e 18 24 0a 06 00"            # 1_700_000_000_000_000
T1="40 82 2d 18 24 0a 06 00"            # T0 + 1_000_000
T15="00 01 E8 03 00 00 00 00 00 00 4C 04 00 00 00 00 00 00 2A 64 07"
T2="01 02 00 00 00 00 03 00 00 00 06 00 00 00 09 00 00 00 66 6F 6F 62 61 72 62 61 7A"

# ---------------------------------------------------------------- ingress_message
seed ingress_message t1 "51 57 50 31 01 00 01 00 4A 00 00 00 $SENSORS 02 03
  02 69 64 05 05 76 61 6C 75 65 07 00 0A
  00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
  00 CD CC CC CC CC CC F4 3F 9A 99 99 99 99 99 01 40
  00 00 E4 0B 54 02 00 00 00 80 1A 06 00 00 00 00 00"
seed ingress_message t3 "51 57 50 31 01 0C 01 00 50 00 00 00
  00 02 07 73 65 72 76 65 72 31 07 73 65 72 76 65 72 32
  $SENSORS 02 03 04 68 6F 73 74 09 04 74 65 6D 70 07 00 0A
  00 00 01
  00 66 66 66 66 66 E6 56 40 9A 99 99 99 99 19 57 40
  00 01 $T0 $T1"
seed ingress_message t20 "51 57 50 31 01 09 00 00 12 00 00 00 00 02 07 73 65 72 76 65 72 31 07 73 65 72 76 65 72 32"
seed ingress_message t21 "51 57 50 31 01 08 00 00 02 00 00 00 02 00"
# Gorilla timestamps (T15 body) in a 5-row table, flags GORILLA.
seed ingress_message gorilla5 "$(frame 04 1 "01 74 05 01 00 0A $T15")"
# Per-column symbol dictionary (flags 0) with a null, plus the T2 VARCHAR.
seed ingress_message symdict_varchar "$(frame 00 1 "01 73 04 02 03 73 79 6D 09 01 76 0F
  01 02 02 01 61 01 62 00 01 01
  $T2")"

# ---------------------------------------------------------------- ingress_response
seed ingress_response t17 "00 00 00 00 00 00 00 00 00 01 00 07 00 73 65 6E 73 6F 72 73 03 00 00 00 00 00 00 00"
seed ingress_response t18 "05 01 00 00 00 00 00 00 00 03 00 62 61 64"
seed ingress_response t19 "02 01 00 07 00 73 65 6E 73 6F 72 73 03 00 00 00 00 00 00 00"

# ---------------------------------------------------------------- egress_server_message
T8_BODY="00 02 02 02 69 64 05 05 76 61 6C 75 65 07
  00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
  00 CD CC CC CC CC CC F4 3F 9A 99 99 99 99 99 01 40"
seed egress_server_message t8 "$(frame 00 1 "11 01 00 00 00 00 00 00 00 00 $T8_BODY")"
seed egress_server_message t8_flags0c "$(frame 0C 1 "11 01 00 00 00 00 00 00 00 00 00 00 $T8_BODY")"
seed egress_server_message t9 "51 57 50 31 01 00 00 00 0B 00 00 00 12 01 00 00 00 00 00 00 00 00 02"
seed egress_server_message t22 "51 57 50 31 01 00 00 00 22 00 00 00
  18 01 05 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 00 00 00 00
  02 00 63 31 02 00 6E 31 02 00 65 75"
seed egress_server_message t23 "$(frame 00 0 "13 01 00 00 00 00 00 00 00 0A 01 00 78")"
seed egress_server_message t25 "51 57 50 31 01 00 00 00 02 00 00 00 17 01"
seed egress_server_message exec_done "$(frame 00 0 "16 01 00 00 00 00 00 00 00 02 05")"
# batch_seq 1 matching the fuzz target's fixed schema (LONG a, VARCHAR b,
# TIMESTAMP c), flags GORILLA|DELTA_DICT, one new symbol in the delta.
seed egress_server_message batch1_schema "$(frame 0C 1 "11 01 00 00 00 00 00 00 00 01
  00 01 01 7A 00 02
  00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00
  00 00 00 00 00 01 00 00 00 02 00 00 00 78 79
  00 00 $T0 $T1")"
# batch 0 with the egress DATE (Gorilla, T15 body) and a global SYMBOL.
seed egress_server_message batch0_date_sym "$(frame 0C 1 "11 02 00 00 00 00 00 00 00 00
  00 02 01 61 01 62 00 05 02 01 64 0B 01 73 09
  $T15
  01 12 00 01 00")"
if command -v zstd > /dev/null; then
  tmp=$(mktemp); hex "$T8_BODY" > "$tmp"   # from a file, so the frame declares its size
  body=$(zstd -q -c --content-size "$tmp" | od -An -v -tx1); rm -f "$tmp"
  seed egress_server_message t8_zstd "$(frame 10 1 "11 01 00 00 00 00 00 00 00 00 $body")"
fi

# ---------------------------------------------------------------- egress_client_message
# Byte 0 bit 0 = query_flags_cap; the rest is the client payload.
T7="10 01 00 00 00 00 00 00 00 25 $SQL 00"
seed egress_client_message t7 "00 $T7 00"
seed egress_client_message t26 "01 $T7 00 01"
seed egress_client_message query_timeout "01 $T7 00 02 E8 07"
# Binds: T10 LONG 42, T11 NULL LONG, VARCHAR "hi", NULL VARCHAR,
# DECIMAL64 scale 2, DOUBLE 1.5, TIMESTAMP, GEOHASH 20 bits.
seed egress_client_message binds "00 $T7 08
  05 00 2A 00 00 00 00 00 00 00
  05 01 01
  0F 00 00 00 00 00 02 00 00 00 68 69
  0F 01 01
  13 00 02 39 30 00 00 00 00 00 00
  07 00 00 00 00 00 00 00 F8 3F
  0A 00 $T0
  0E 00 14 AB CD 0E"
seed egress_client_message t12 "00 15 07 00 00 00 00 00 00 00 80 80 04"
seed egress_client_message t24 "00 14 07 00 00 00 00 00 00 00"

# ---------------------------------------------------------------- column_body
# Byte 0: ColumnType::ALL index; byte 1: rows; byte 2: bit0 gorilla,
# bit1 delta_dict, bit2 egress; then the body.
seed column_body boolean_t4 "00 08 00 00 8D"
seed column_body long_nulls_t5 "04 0A 00 01 05 02
  01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00
  04 00 00 00 00 00 00 00 05 00 00 00 00 00 00 00 06 00 00 00 00 00 00 00
  07 00 00 00 00 00 00 00"
seed column_body symbol_dict "07 03 00 00 02 01 61 01 62 00 01 00"
seed column_body symbol_global "07 02 02 00 00 01"
seed column_body timestamp_gorilla_t15 "08 05 01 $T15"
seed column_body date_egress_gorilla "09 05 05 $T15"
seed column_body uuid_t14 "0A 01 00 00 00 00 44 55 66 44 16 A7 D4 41 9B E2 00 84 0E 55"
seed column_body long256 "0B 01 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00 04 00 00 00 00 00 00 00"
seed column_body geohash "0C 02 00 00 14 AB CD 0E 12 34 05"
seed column_body varchar_t2 "0D 04 00 $T2"
seed column_body tsnanos_raw_flag "0E 02 01 00 00 $T0 $T1"
seed column_body double_array "0F 01 00 00 02 02 00 00 00 01 00 00 00 00 00 00 00 00 00 F0 3F 00 00 00 00 00 00 00 40"
seed column_body long_array_null "10 02 00 01 01 01 03 00 00 00 01 00 00 00 00 00 00 00 02 00 00 00 00 00 00 00 03 00 00 00 00 00 00 00"
seed column_body decimal64 "11 01 00 00 03 39 30 00 00 00 00 00 00"
seed column_body decimal128 "12 01 00 00 05 39 30 00 00 00 00 00 00 00 00 00 00 00 00 00 00"
seed column_body decimal256 "13 01 00 00 02 FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF FF"
seed column_body char "14 02 00 00 41 00 42 00"
seed column_body binary "15 01 00 00 00 00 00 00 02 00 00 00 FF 00"
seed column_body ipv4 "16 01 00 00 01 00 A8 C0"

# ---------------------------------------------------------------- server_requests
# Byte 0 picks the path: 0 ingest frames, 1 query-endpoint messages, 2 a raw
# HTTP upgrade request (see the target's docs).
mkdir -p seeds/server_requests
for f in seeds/ingress_message/*; do
  { printf '\x00'; cat "$f"; } > "seeds/server_requests/ingest-$(basename "$f")"
done
for f in seeds/egress_client_message/*; do
  { printf '\x01'; tail -c +2 "$f"; } > "seeds/server_requests/query-$(basename "$f")"
done
printf '\x02GET /read/v1 HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\nAuthorization: Basic dTpw\r\nX-QWP-Max-Version: 1' \
  > seeds/server_requests/http-upgrade

# ---------------------------------------------------------------- ilp_decode
# Byte 0: bit 0 clear = parse (version 1 + (b >> 1) % 3), set = encode round trip.
mkdir -p seeds/ilp_decode
printf '\x00trades,symbol=BTC-USD,side=buy price=61432,amount=0.5 1465839830100400000\ntrade,ticker=BTC\\\\USD\\,All,venue=coin\\ base price=30,d="a \\"q\\"",n=96i,b=t,ts1=10000t\r\n# c\n\nt,s=v 1t\n' > seeds/ilp_decode/v1-text
{ printf '\x02m x==\x10\x00\x00\x00\x00\x00\x00\xf0\x3f,a==\x0e\x0a\x02\x01\x00\x00\x00\x02\x00\x00\x00'
  printf '\x00\x00\x00\x00\x00\x00\xf0\x3f\x00\x00\x00\x00\x00\x00\x00\x40 5n\n'; } > seeds/ilp_decode/v2-binary
printf '\x04fx p==\x17\x02\x02\x30\x39,q=-1.50d 9t\n' > seeds/ilp_decode/v3-decimal
printf '\x01a b,c=d\xff\xfeQW\xff\xfeQWline\nbreak "q" \\x' > seeds/ilp_decode/round-trip-v1
printf '\x03\x00\x00\x00\x00\x00\x00\xf8\x7f\x01\x02\x03\x04\x05\x06\x07\x08\xff\xfeQW=' > seeds/ilp_decode/round-trip-v2

# ---------------------------------------------------------------- ws_frame_header
# Server frames back to back: binary (7-bit, 16-bit and 64-bit lengths), a
# fragmented message with a ping between its fragments, a close with code
# and reason; then single refused headers.
mkdir -p seeds/ws_frame_header
{ printf '\x82\x03abc\x82\x7e\x00\x80'; head -c 128 /dev/zero
  printf '\x82\x7f\x00\x00\x00\x00\x00\x00\x00\x02xy'
  printf '\x02\x01a\x89\x02hi\x80\x01b\x88\x05\x03\xe9bye'; } > seeds/ws_frame_header/stream
printf '\x82\x85\x01\x02\x03\x04abcde' > seeds/ws_frame_header/masked
printf '\x09\x00' > seeds/ws_frame_header/fragmented-ping
printf '\x89\x7e\x00\x7e' > seeds/ws_frame_header/long-ping
printf '\x82\x7f\x80\x00\x00\x00\x00\x00\x00\x00' > seeds/ws_frame_header/length-overflow

for d in seeds/*/; do
  t=$(basename "$d")
  mkdir -p "corpus/$t"
  cp -n "$d"* "corpus/$t/" 2>/dev/null || true
done
echo "seeds: $(find seeds -type f | wc -l) files"
