#!/bin/sh
# encrypt_rcpt.sh - the encryption policy at RCPT time through
# smime-milter -t -r (SPEC "Encryption", smime-milter(8) -t): the
# replies on stderr and the exit codes, with certificates from a real
# CertificateStore (smime-certstore import) and an EncryptPolicyFile:
#   required without a certificate: 550 5.7.1, exit 69 when alone;
#   required with one, then never or no certificate: 452 4.5.3;
#   the same the other way round; EncryptSplit for opportunistic ones;
#   inbound mail and Mode without e: no policy at all;
#   -n: FILE:LINE errors of the policy file.
# (451 4.7.1, a certificate lookup failing for a transient reason, needs
# a store that breaks after the configuration is read: check_encpolicy
# covers the decision.)
#
# Prints "N passed, N failed" and exits 1 when anything failed.
set -u

top_srcdir=${top_srcdir:-$(cd "$(dirname "$0")/.." && pwd)}
top_builddir=${top_builddir:-$(pwd)}
CS=$top_builddir/milter/smime-certstore
MILTER=$top_builddir/milter/smime-milter
PKI=$top_builddir/tests/work/pki
W=$top_builddir/tests/work/encrypt-rcpt-sh

sh "$top_srcdir/tests/pki/mkpki.sh" "$PKI" >/dev/null || {
	echo "encrypt_rcpt.sh: cannot make the test PKI" >&2; exit 1; }
rm -rf "$W"
mkdir -p "$W"
S=$W/store.mdb
for u in encrsa encec; do
	"$CS" import "$S" "$PKI/$u.chain.pem" >/dev/null || {
		echo "encrypt_rcpt.sh: import $u" >&2; exit 1; }
done

cat >"$W/policy" <<EOF
# partners
encrsa@example.org   required
nocert.example       required
never.example        never
EOF
conf() {	# conf NAME [EXTRA-LINE]
	cat >"$W/$1.conf" <<EOF
Mode ve
AuthservID mx.example.net
TrustAnchorFile $PKI/roots.pem
CertificateStore $S
EncryptPolicyFile $W/policy
${2:-}
EOF
}
conf plain
conf split "EncryptSplit yes"
conf noenc "EncryptSplit yes"
sed -i 's/^Mode ve$/Mode v/' "$W/noenc.conf"
printf 'From: us@example.net\nTo: them@example.org\nSubject: t\n\nhello\n' \
    >"$W/msg.eml"

passed=0 failed=0
# t NAME CONF WANT-EXIT STDERR-PATTERN|- [smime-milter options...]:
# -t outbound (SASL login us@example.net) unless the options say otherwise
t() {
	name=$1 cf=$2 want=$3 pat=$4
	shift 4
	"$MILTER" -c "$W/$cf.conf" -t "$W/msg.eml" "$@" >"$W/out" 2>"$W/err"
	got=$?
	if [ "$got" -ne "$want" ]; then
		failed=$((failed + 1)); echo "not ok - $name: exit $got, not $want"
		sed 's/^/    /' "$W/err"
	elif [ "$pat" = - ] && grep -q "refused" "$W/err"; then
		failed=$((failed + 1)); echo "not ok - $name: a recipient refused"
		sed 's/^/    /' "$W/err"
	elif [ "$pat" != - ] && ! grep -Eq -- "$pat" "$W/err"; then
		failed=$((failed + 1)); echo "not ok - $name: stderr lacks $pat"
		sed 's/^/    /' "$W/err"
	else
		passed=$((passed + 1)); echo "ok - $name"
	fi
}
A="-A us@example.net"
R=": -t: recipient"

t "required, no certificate: 550, alone: exit 69" plain 69 \
    "$R a@nocert.example refused: 550 5.7.1 " $A -r a@nocert.example
t "required, no certificate: logged with its reason" plain 69 \
    "event=rcpt rcpt=a@nocert.example policy=required match=nocert.example reply=550 xcode=5.7.1 reason=\"required, no usable certificate" \
    $A -r a@nocert.example
t "required, no certificate, among others: the rest goes" plain 0 \
    "$R a@nocert.example refused: 550 5.7.1 " $A -r x@example.com -r a@nocert.example
t "required with a certificate: accepted" plain 0 - $A -r encrsa@example.org
t "required then never: 452" plain 0 \
    "$R b@never.example refused: 452 4.5.3 " $A -r encrsa@example.org -r b@never.example
t "required then no certificate: 452" plain 0 \
    "$R c@example.com refused: 452 4.5.3 " $A -r encrsa@example.org -r c@example.com
t "required then opportunistic with certificate: accepted" plain 0 - \
    $A -r encrsa@example.org -r encec@example.org
t "never then required: 452" plain 0 \
    "$R encrsa@example.org refused: 452 4.5.3 " $A -r b@never.example -r encrsa@example.org
t "opportunistic mix without EncryptSplit: accepted" plain 0 - \
    $A -r encec@example.org -r c@example.com -r b@never.example
t "EncryptSplit: without certificate after with: 452" split 0 \
    "$R c@example.com refused: 452 4.5.3 " $A -r encec@example.org -r c@example.com
t "EncryptSplit: with certificate after without: 452" split 0 \
    "$R encec@example.org refused: 452 4.5.3 " $A -r c@example.com -r encec@example.org
t "EncryptSplit: never after with: 452" split 0 \
    "$R b@never.example refused: 452 4.5.3 " $A -r encec@example.org -r b@never.example
t "addresses compare in any case" plain 69 \
    "$R A@NoCert.Example refused: 550 5.7.1 " $A -r A@NoCert.Example
t "local submission (-a ''): outbound too" plain 69 \
    "$R a@nocert.example refused: 550 5.7.1 " -a '' -r a@nocert.example
t "inbound: no policy" plain 0 - -a 192.0.2.1 -r a@nocert.example
t "Mode without e: no policy" noenc 0 - $A -r a@nocert.example

# -n: the policy file's problems as FILE:LINE
printf 'example.com required\nexample.net sometimes\nexample.com never\n' \
    >"$W/policy"
"$MILTER" -n -c "$W/plain.conf" >"$W/n.out" 2>&1
rc=$?
if [ "$rc" -eq 1 ] &&
   grep -q "^$W/policy:2: example.net: expected never, opportunistic or required, not \"sometimes\"" "$W/n.out" &&
   grep -q "^$W/policy:3: example.com already given on line 1" "$W/n.out"; then
	passed=$((passed + 1)); echo "ok - -n: policy file errors with lines"
else
	failed=$((failed + 1)); echo "not ok - -n: exit $rc"
	sed 's/^/    /' "$W/n.out"
fi

echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
