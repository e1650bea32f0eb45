#!/bin/sh
# gpgsm_import.sh KEY CRT WORKDIR: give gpgsm (in $GNUPGHOME) the private
# key KEY with its certificate CRT.
#
# gpgsm 2.2 takes a private key only inside a PKCS#12 file, reads only the
# legacy (PKCS#12 KDF + 3DES) encryption of it, and fails to decrypt the
# key bag of some of those files: the same key, exported again with a new
# salt, imports.  Measured on Debian 12 (gpgsm 2.2.40): 1 file in 20
# written by `openssl pkcs12 -export -legacy` fails ("decryption failed;
# trying charset ...", "data error at shrouded_key_bag.decrypted-text")
# while openssl and certtool read the same file.  So export and import up
# to 8 times, each time with a fresh salt, and fail only if all fail
# (chance about 1 in 2.5e10 at that rate): one unlucky salt must not fail
# a CI run, and a real breakage still fails every try.
#
# The password "test" is given on fd 0 (gpgsm takes it no other way).
set -u
key=$1 crt=$2 dir=$3
OPENSSL=${OPENSSL:-openssl}
p12=$dir/gpgsm-import.$$.p12
try=1
while [ $try -le 8 ]; do
	"$OPENSSL" pkcs12 -export -legacy -inkey "$key" -in "$crt" \
	    -passout pass:test -out "$p12" || exit 1
	if echo test | gpgsm --batch --pinentry-mode loopback \
	    --passphrase-fd 0 --import "$p12" >"$p12.log" 2>&1; then
		rm -f "$p12" "$p12.log"
		exit 0
	fi
	try=$((try + 1))
done
echo "gpgsm_import.sh: gpgsm did not import $key in 8 tries; last try:" >&2
cat "$p12.log" >&2
rm -f "$p12" "$p12.log"
exit 1
