#!/bin/sh
# keystore_import.sh - smime-keystore import-dir DIR [-o SOURCE].
#
# SYNOPSIS
#	tests/keystore_import.sh	(make check runs it)
#
# DESCRIPTION
#	A directory of credentials named after their addresses (PKCS#12
#	with SMIME_KEYSTORE_PASSWORD, PEM, ADDRESS.N.EXT for a second and
#	third credential, an expired decryption key, a README and a hidden
#	file) becomes a source file with absolute paths that `build'
#	accepts; the same lines go to standard output without -o.  A
#	directory with problems (wrong PKCS#12 password, key and
#	certificate that do not match, an address not in the certificate,
#	the same credential twice) gets one FILE: message each, exit 1 and
#	no SOURCE.  The test PKI is made by tests/pki/mkpki.sh.
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

. "$(dirname "$0")/pkitest.sh"
pkitest_begin keystore_import "$top_builddir/tests/work/keystore-import" \
	good bad
W=$(cd "$W" && pwd -P)

# --- a good directory ---
G=$W/good
cp "$PKI/alice.p12" "$G/alice@example.org.p12"
cp "$PKI/carol-sign.pem" "$G/carol@example.org.pem"
cp "$PKI/carol-enc.pem" "$G/carol@example.org.2.pem"
cp "$PKI/carol-old.pem" "$G/carol@example.org.3.pem"
echo "keys of example.org" >"$G/README"
echo "not a credential" >"$G/.hidden.pem"
SMIME_KEYSTORE_PASSWORD=test "$KS" import-dir "$G" -o "$W/src.txt" \
    >"$W/out" 2>&1
rc=$?
# judged by hand: one line per credential, name order, absolute paths
cat >"$W/want" <<EOT
alice@example.org $G/alice@example.org.p12
carol@example.org $G/carol@example.org.2.pem
carol@example.org $G/carol@example.org.3.pem
carol@example.org $G/carol@example.org.pem
EOT
if [ $rc = 0 ] && grep -v '^#' "$W/src.txt" | cmp -s - "$W/want" &&
   grep -q "^$G/README: warning: not imported: not named ADDRESS.pem" "$W/out" &&
   grep -q "^$G/carol@example.org.3.pem: warning: expired certificate (valid until 2002-01-01T00:00:00Z): kept for decryption only$" "$W/out" &&
   ! grep -q hidden "$W/out" "$W/src.txt"; then
	ok "import-dir writes a source file of every credential"
else
	notok "import-dir writes a source file of every credential (exit $rc)"
	show "$W/out"; show "$W/src.txt"
fi
SMIME_KEYSTORE_PASSWORD=test "$KS" build "$W/src.txt" "$W/ks.cdb" \
    >"$W/out" 2>&1
rc=$?
"$KS" list "$W/ks.cdb" >"$W/list" 2>&1
if [ $rc = 0 ] && [ "$(grep -c '^carol@example.org ' "$W/list")" = 3 ] &&
   grep -q '^alice@example.org .* purpose=sign' "$W/list"; then
	ok "build accepts the source file import-dir wrote"
else
	notok "build accepts the source file import-dir wrote (exit $rc)"
	show "$W/out"; show "$W/list"
fi
SMIME_KEYSTORE_PASSWORD=test "$KS" import-dir "$G" >"$W/stdout" 2>/dev/null
if [ $? = 0 ] && cmp -s "$W/stdout" "$W/want"; then
	ok "import-dir without -o prints the lines"
else
	notok "import-dir without -o prints the lines"; show "$W/stdout"
fi

# --- a directory with problems: FILE: message each, nothing written ---
B=$W/bad
cp "$PKI/alice.p12" "$B/alice@example.org.pfx"          # wrong password
cat "$PKI/alice.key" "$PKI/bob.crt" >"$B/bob@example.org.1.pem"
cp "$PKI/alice.pem" "$B/bob@example.org.pem"             # not bob's
cp "$PKI/carol-sign.pem" "$B/carol@example.org.pem"
cp "$PKI/carol-sign.pem" "$B/carol@example.org.1.pem"    # twice
SMIME_KEYSTORE_PASSWORD=wrong "$KS" import-dir "$B" -o "$W/bad.txt" \
    >"$W/out" 2>&1
rc=$?
if [ $rc = 1 ] && [ ! -e "$W/bad.txt" ] &&
   grep -q "^$B/alice@example.org.pfx: cannot open the PKCS#12 file: wrong password" "$W/out" &&
   grep -q "^$B/bob@example.org.1.pem: private key does not match the certificate$" "$W/out" &&
   grep -q "^$B/bob@example.org.pem: bob@example.org is not in the certificate" "$W/out" &&
   grep -q "^$B/carol@example.org.pem: duplicate credential: carol@example.org has the same certificate as $B/carol@example.org.1.pem$" "$W/out" &&
   grep -q "4 problems, nothing written" "$W/out"; then
	ok "import-dir reports each bad file and writes nothing"
else
	notok "import-dir reports each bad file and writes nothing (exit $rc)"
	show "$W/out"
fi
"$KS" import-dir "$W/no-such-dir" >"$W/out" 2>&1
if [ $? = 1 ] && grep -q "cannot read the directory" "$W/out"; then
	ok "import-dir of a missing directory fails"
else
	notok "import-dir of a missing directory fails"; show "$W/out"
fi

pkitest_end
