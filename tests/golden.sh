#!/bin/sh
# golden.sh - run smime-milter -t on the test messages and golden files.
#
# SYNOPSIS
#	tests/golden.sh		(from make check, or by hand with top_srcdir
#				and top_builddir set)
#
# DESCRIPTION
#	1. Signed messages: makes the test PKI and the messages of
#	   tests/fixtures/cases.txt under $top_builddir/tests/work/ (once),
#	   runs `smime-milter -c golden.conf -t MSG` on each and asserts:
#	   exit 0; the first header is Authentication-Results for
#	   mx.test.example and it is the only one with that authserv-id;
#	   its resinfos carry the expected results, comments, parts,
#	   identifiers and serials (serials.txt); and the rest of the output,
#	   headers and body, is byte for byte the input (the signed content
#	   is never touched; the new header uses the input's line ends).
#	2. Golden files: tests/data/NAME.eml through -t must give exactly
#	   tests/data/NAME.ref.  NAME.conf (optional) is appended to the
#	   configuration (@top_srcdir@ in it stands for the source tree),
#	   NAME.opts (optional) holds extra -t arguments.
#	3. Limits too big to commit or needing the PKI: tests/mklimits.sh
#	   writes limit-NAME.eml and .ref under tests/work/golden/limits/,
#	   checked like the golden files of 2 (and removed afterwards: one
#	   is 90 MB).
#	Prints one line per failure and "N passed, N failed"; exit 0 only
#	when nothing failed.
#
# ENVIRONMENT
#	top_srcdir, top_builddir	default: the directory above this one
#	SMIME_MILTER	the daemon (default $top_builddir/milter/smime-milter)
#	GOLDEN_KEEP	if set, keep outputs in tests/work/golden/

set -u
. "$(dirname "$0")/testlib.sh"
WORK=$top_builddir/tests/work
PKI=$WORK/pki
MSGS=$WORK/msgs
G=$WORK/golden
ID=mx.test.example

mkdir -p "$WORK"
sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" || exit 99
sh "$top_srcdir/tests/fixtures/mkmsgs.sh" "$PKI" "$MSGS" || exit 99
rm -rf "$G"
mkdir -p "$G"

cat >"$G/golden.conf" <<EOF
# written by tests/golden.sh
Socket inet:10025@127.0.0.1
Mode v
AuthservID $ID
TrustAnchorFile $PKI/roots.pem
CRLFile $PKI/crl.pem
InternalHosts none
EOF

# first_header FILE: print the first header of FILE unfolded (line ends
# and folding CR/LF removed) and, on a second line, how many lines it has.
first_header() {
	awk '
	NR == 1 { sub(/\r$/, ""); h = $0; n = 1; next }
	/^[ \t]/ { sub(/\r$/, ""); h = h " " $0; n++; next }
	{ exit }
	END { print h; print n }' "$1"
}

# count_ours FILE: number of Authentication-Results headers in the header
# block of FILE whose authserv-id is ours (after optional comments).
count_ours() {
	awk -v id="$ID" '
	function flush() {
		if (h == "") return
		v = h
		if (tolower(substr(v, 1, 23)) != "authentication-results:") { h = ""; return }
		v = substr(v, 24)
		# strip leading CFWS: whitespace and (possibly nested) comments
		for (;;) {
			sub(/^[ \t]+/, "", v)
			if (substr(v, 1, 1) != "(") break
			d = 0
			for (i = 1; i <= length(v); i++) {
				c = substr(v, i, 1)
				if (c == "\\") { i++; continue }
				if (c == "(") d++
				if (c == ")" && --d == 0) break
			}
			v = substr(v, i + 1)
		}
		match(v, /^[^ \t;(]+/)
		if (tolower(substr(v, 1, RLENGTH)) == tolower(id)) n++
		h = ""
	}
	{ sub(/\r$/, "") }
	/^$/ { flush(); exit }
	/^[ \t]/ { h = h " " $0; next }
	{ flush(); h = $0 }
	END { flush(); print n + 0 }' "$1"
}

# resinfos VALUE: one line per resinfo after the authserv-id:
# "RESULT<TAB>COMMENT<TAB>PART<TAB>IDENTIFIER<TAB>SERIAL" (quotes removed).
resinfos() {
	printf '%s\n' "$1" | awk '
	function emit() {
		if (cur ~ /^[ \t]*$/) return
		res = ""; com = ""; part = ""; ident = ""; ser = ""
		s = cur
		if (match(s, /smime=[A-Za-z]+/))
			res = substr(s, RSTART + 6, RLENGTH - 6)
		if (match(s, /\([^)]*\)/))
			com = substr(s, RSTART + 1, RLENGTH - 2)
		part = prop(s, "part"); ident = prop(s, "identifier")
		ser = prop(s, "serial")
		printf "%s\t%s\t%s\t%s\t%s\n", res, com, part, ident, ser
	}
	function prop(s, name,   v) {
		if (!match(s, "body\\.smime-" name "="))
			return ""
		v = substr(s, RSTART + RLENGTH)
		if (substr(v, 1, 1) == "\"") {
			v = substr(v, 2)
			return substr(v, 1, index(v, "\"") - 1)
		}
		match(v, /^[^ \t;()]*/)
		return substr(v, 1, RLENGTH)
	}
	{
		# split on ";" outside quotes and comments; drop the authserv-id
		v = $0; q = 0; d = 0; cur = ""; seen = 0
		for (i = 1; i <= length(v); i++) {
			c = substr(v, i, 1)
			if (c == "\\" ) { cur = cur c substr(v, i + 1, 1); i++; continue }
			if (c == "\"" && d == 0) q = !q
			if (c == "(" && !q) d++
			if (c == ")" && !q && d > 0) d--
			if (c == ";" && !q && d == 0) {
				if (seen) emit(); seen = 1; cur = ""; continue
			}
			cur = cur c
		}
		if (seen) emit()
	}'
}

serial_of() {
	awk -v n="$1" '$1 == n { print $2 }' "$PKI/serials.txt"
}

# field LIST N: the N-th "|"-separated element of LIST.
field() {
	printf '%s\n' "$1" | awk -F'|' -v n="$2" '{ print $n }'
}

check_case() {
	name=$1 want_res=$2 want_part=$3 want_signers=$4 want_reasons=$5
	in=$MSGS/$name.eml
	out=$G/$name.out
	"$MILTER" -c "$G/golden.conf" -t "$in" >"$out" 2>"$G/$name.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$name" "exit $rc: $(head -c 300 "$G/$name.err")"
		return
	fi
	fh=$(first_header "$out")
	hdr=$(printf '%s\n' "$fh" | sed -n 1p)
	hlines=$(printf '%s\n' "$fh" | sed -n 2p)
	case $hdr in
	"Authentication-Results: $ID;"*) ;;
	*) fail "$name" "first header is not ours: $hdr"; return ;;
	esac
	ours=$(count_ours "$out")
	if [ "$ours" != 1 ]; then
		fail "$name" "$ours Authentication-Results headers for $ID"
		return
	fi
	# Everything after our header is the input, byte for byte.
	tail -n +"$((hlines + 1))" "$out" >"$G/$name.rest"
	if ! cmp -s "$G/$name.rest" "$in"; then
		fail "$name" "output after the new header differs from input: $(cmp "$G/$name.rest" "$in" 2>&1 | head -1)"
		return
	fi
	# The new header uses the input's line ends.
	if head -n 1 "$in" | grep -q "$(printf '\r')\$"; then
		crs=$(head -n "$hlines" "$out" | grep -c "$(printf '\r')\$")
	else
		crs=$(head -n "$hlines" "$out" | grep -c -v "$(printf '\r')\$")
	fi
	if [ "$crs" != "$hlines" ]; then
		fail "$name" "new header does not use the input's line ends"
		return
	fi

	ri=$(resinfos "$hdr")
	got_n=$(printf '%s\n' "$ri" | grep -c .)
	want_n=$(printf '%s\n' "$want_res" | awk -F'|' '{ print NF }')
	if [ "$got_n" != "$want_n" ]; then
		fail "$name" "$got_n resinfos, want $want_n: $hdr"
		return
	fi
	i=1
	while [ "$i" -le "$want_n" ]; do
		line=$(printf '%s\n' "$ri" | sed -n "${i}p")
		g_res=$(printf '%s\n' "$line" | cut -f1)
		g_com=$(printf '%s\n' "$line" | cut -f2)
		g_part=$(printf '%s\n' "$line" | cut -f3)
		g_id=$(printf '%s\n' "$line" | cut -f4)
		g_ser=$(printf '%s\n' "$line" | cut -f5)
		w_res=$(field "$want_res" "$i")
		w_rea=$(field "$want_reasons" "$i")
		w_sig=$(field "$want_signers" "$i")
		what="resinfo $i"
		if [ "$g_res" != "$w_res" ]; then
			fail "$name" "$what: smime=$g_res ($g_com), want $w_res: $hdr"
			return
		fi
		case $w_rea in
		-) ;;
		*) case $g_com in
		   *"$w_rea"*) ;;
		   *) fail "$name" "$what: comment \"$g_com\" lacks \"$w_rea\""
		      return ;;
		   esac ;;
		esac
		w_part=$want_part
		case $want_part in
		*'|'*) w_part=$(field "$want_part" "$i") ;;
		esac
		[ "$w_part" = - ] && w_part=
		if [ "$g_part" != "$w_part" ]; then
			fail "$name" "$what: part \"$g_part\", want \"$w_part\""
			return
		fi
		if [ "$w_sig" != - ]; then
			w_ser=$(serial_of "$w_sig")
			if [ "$g_id" != "$w_sig@example.org" ] ||
			    [ "$g_ser" != "$w_ser" ]; then
				fail "$name" "$what: identifier=$g_id serial=$g_ser, want $w_sig@example.org $w_ser"
				return
			fi
		fi
		i=$((i + 1))
	done
	pass
}

while read -r name res part signers reasons; do
	case $name in ''|\#*) continue ;; esac
	check_case "$name" "$res" "$part" "$signers" "$reasons"
done <"$top_srcdir/tests/fixtures/cases.txt"

# golden_file EML LABEL: EML through -t must give ${EML%.eml}.ref.
golden_file() {
	eml=$1 label=$2
	name=$(basename "$eml" .eml)
	ref=${eml%.eml}.ref
	conf=$G/data-$name.conf
	if [ -f "${eml%.eml}.conf" ]; then
		# NAME.conf replaces the keys it sets
		awk 'NR == FNR { if ($1 !~ /^#/) set[tolower($1)] = 1; next }
		    !(tolower($1) in set)' "${eml%.eml}.conf" "$G/golden.conf" \
		    >"$conf"
		sed "s|@top_srcdir@|$top_srcdir|g" "${eml%.eml}.conf" >>"$conf"
	else
		cp "$G/golden.conf" "$conf"
	fi
	opts=
	if [ -f "${eml%.eml}.opts" ]; then
		opts=$(cat "${eml%.eml}.opts")
	fi
	out=$G/data-$name.out
	# shellcheck disable=SC2086
	"$MILTER" -c "$conf" -t "$eml" $opts >"$out" 2>"$G/data-$name.err"
	rc=$?
	if [ "$rc" -ne 0 ]; then
		fail "$label" "exit $rc: $(head -c 300 "$G/data-$name.err")"
	elif ! cmp -s "$out" "$ref"; then
		fail "$label" "output differs from $name.ref:"
		diff "$ref" "$out" | head -20 | cut -c 1-200 | sed 's/^/	/'
	else
		pass
	fi
	[ -n "${GOLDEN_KEEP:-}" ] || rm -f "$out"
}

# Static golden files.
for eml in "$top_srcdir"/tests/data/*.eml; do
	[ -f "$eml" ] || continue
	golden_file "$eml" "data/$(basename "$eml" .eml)"
done

# Generated limit cases.
if sh "$top_srcdir/tests/mklimits.sh" "$PKI" "$G/limits" "$ID" \
    >"$G/mklimits.log" 2>&1; then
	for eml in "$G"/limits/*.eml; do
		golden_file "$eml" "limits/$(basename "$eml" .eml)"
		[ -n "${GOLDEN_KEEP:-}" ] || rm -f "$eml" "${eml%.eml}.ref"
	done
else
	fail limits "tests/mklimits.sh failed: $(tail -3 "$G/mklimits.log")"
fi

[ -n "${GOLDEN_KEEP:-}" ] || rm -rf "$G"
test_summary
