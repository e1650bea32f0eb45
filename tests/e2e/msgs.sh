# msgs.sh - message helpers of the end-to-end tests (sourced by lib.sh).
#
# DESCRIPTION
#	Reading delivered messages (headers unfolded, body), the assertion on
#	our Authentication-Results header, test messages made and signed with
#	OpenSSL (an independent signer), and the independent judges of what
#	was delivered: `openssl cms -verify' and python3-dkim (dkimverify.py).
#	Uses lib.sh's variables (E2E_PKI, E2E_T, E2E_AUTHSERV, ...).

# e2e_headers FILE: the header block, folded lines joined (one per line).
e2e_headers() {
    awk '
        /^\r?$/ { exit }
        /^[ \t]/ { sub(/\r$/, ""); line = line $0; next }
        { if (line != "") print line; sub(/\r$/, ""); line = $0 }
        END { if (line != "") print line }
    ' "$1"
}

# e2e_header FILE NAME: the unfolded values of every NAME header, in order.
e2e_header() {
    e2e_headers "$1" | awk -v n="$2" '
        BEGIN { n = tolower(n) ":" }
        tolower(substr($0, 1, length(n))) == n {
            v = substr($0, length(n) + 1); sub(/^[ \t]+/, "", v)
            gsub(/[ \t]+/, " ", v); print v
        }'
}

# e2e_body FILE: everything after the header block, with LF line ends
# (SMTP carries lines: CRLF in a file sent and LF in one delivered are equal).
e2e_body() { awk 'f { sub(/\r$/, ""); print; next } /^\r?$/ { f = 1 }' "$1"; }

# e2e_ours FILE: our Authentication-Results values (authserv-id ours).
e2e_ours() {
    e2e_header "$1" Authentication-Results |
        grep -i "^$(echo "$E2E_AUTHSERV" | sed 's/\./\\./g') *;" || true
}

# e2e_assert_ar FILE RESULT [REASON [IDENTIFIER]]: exactly one
# Authentication-Results header of ours, with smime=RESULT, the reason in
# its comment and, if given, body.smime-identifier=IDENTIFIER.
e2e_assert_ar() {
    _ar=$(e2e_ours "$1")
    _n=$(printf '%s' "$_ar" | grep -c . || true)
    [ "$_n" -eq 1 ] ||
        e2e_fail "expected 1 Authentication-Results of $E2E_AUTHSERV, found $_n: $_ar"
    printf '%s\n' "$_ar" | grep -q "smime=$2\\b" ||
        e2e_fail "expected smime=$2 in: $_ar"
    if [ -n "${3:-}" ]; then
        printf '%s\n' "$_ar" | grep -F -q "smime=$2 ($3" ||
            e2e_fail "expected reason \"$3\" in: $_ar"
    fi
    if [ -n "${4:-}" ]; then
        printf '%s\n' "$_ar" | grep -F -q "body.smime-identifier=$4" ||
            e2e_fail "expected body.smime-identifier=$4 in: $_ar"
    fi
    printf '%s\n' "$_ar"
}

# Test messages (signed by OpenSSL: an independent signer)

E2E_MSGNO=0
# e2e_msg_head FROM TO SUBJECT: RFC 5322 header lines (no MIME headers).
e2e_msg_head() {
    E2E_MSGNO=$((E2E_MSGNO + 1))
    printf 'From: %s\nTo: %s\nSubject: %s\nDate: Thu, 01 Jan 2026 12:00:00 +0000\nMessage-ID: <%s.%s.%s@e2e.test.example>\n' \
        "$1" "$2" "$3" "${E2E_TEST:-e2e}" "$$" "$E2E_MSGNO"
}

# e2e_entity_text OUT TEXT: a text/plain MIME entity (the content to sign);
# OUT "-" is standard output.
e2e_entity_text() {
    if [ "$1" != - ]; then e2e_entity_text - "$2" >"$1"; return; fi
    printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n%s\n' "$2"
}

# e2e_entity_large OUT BYTES: a text/plain entity of about BYTES bytes.
e2e_entity_large() {
    {
        printf 'Content-Type: text/plain; charset=us-ascii\nContent-Transfer-Encoding: 7bit\n\n'
        awk -v size="$2" 'BEGIN {
            fill = "The quick brown fox jumps over the lazy dog; 0123456789"
            for (n = 0; total < size; n++) {
                line = sprintf("%09d %s", n, fill)
                print line
                total += length(line) + 1
            }
        }'
    } >"$1"
}

# e2e_msg_plain OUT FROM TO SUBJECT TEXT: an unsigned text message (OUT "-"
# is standard output).
e2e_msg_plain() {
    if [ "$1" != - ]; then
        _o=$1; shift; e2e_msg_plain - "$@" >"$_o"; return
    fi
    {
        e2e_msg_head "$2" "$3" "$4"
        printf 'MIME-Version: 1.0\n'
        e2e_entity_text - "$5"
    }
}

# e2e_msg_signed OUT SIGNER FROM TO ENTITY [SUBJECT]: ENTITY clear-signed
# (multipart/signed, detached CMS, SHA-256) by PKI user SIGNER with
# `openssl cms -sign`, wrapped in a message from FROM to TO.
e2e_msg_signed() {
    _out=$1 _signer=$2 _from=$3 _to=$4 _entity=$5 _subj=${6:-signed by $2}
    openssl cms -sign -md sha256 -in "$_entity" -outform SMIME \
        -signer "$E2E_PKI/$_signer.crt" -inkey "$E2E_PKI/$_signer.key" \
        -certfile "$E2E_PKI/inter.crt" -out "$_out.cms" || return 1
    # OpenSSL writes the signed part with CRLF and the rest with LF: make
    # it all LF (SMTP sends CRLF; the signature is over the CRLF form).
    {
        e2e_msg_head "$_from" "$_to" "$_subj"
        sed 's/\r$//' "$_out.cms"
    } >"$_out.tmp" || return 1
    rm -f "$_out.cms"
    mv "$_out.tmp" "$_out"
}

# e2e_cms_verify FILE [OPENSSL-ARGS...]: openssl cms -verify of a
# delivered S/MIME message against the test root; 0 when the signature
# is good (e.g. -signer FILE also writes the signer's certificate).
e2e_cms_verify() {
    _f=$1; shift
    openssl cms -verify -in "$_f" -inform SMIME -CAfile "$E2E_PKI/roots.pem" \
        -purpose smimesign -out /dev/null "$@" 2>"$E2E_T/cms-verify.err"
}

# e2e_assert_signed_by FILE ADDRESS: openssl verifies FILE as e2e_cms_verify
# does, and the signer's certificate ($E2E_T/signer.pem after the call)
# names ADDRESS; e2e_fail otherwise.
e2e_assert_signed_by() {
    e2e_cms_verify "$1" -signer "$E2E_T/signer.pem" ||
        e2e_fail "openssl cms -verify fails: $(cat "$E2E_T/cms-verify.err")"
    openssl x509 -in "$E2E_T/signer.pem" -noout -ext subjectAltName |
        grep -q -F "email:$2" || e2e_fail "signer is not $2"
}

# e2e_assert_unsigned FILE WHAT: FILE, sent as text/plain, arrived with
# that Content-Type and no S/MIME part; e2e_fail naming WHAT otherwise.
e2e_assert_unsigned() {
    _ct=$(e2e_header "$1" Content-Type)
    case $_ct in
        text/plain*) ;;
        *) e2e_fail "$2: Content-Type changed to $_ct" ;;
    esac
    ! grep -q -i 'pkcs7' "$1" || e2e_fail "$2: S/MIME content found"
}

# e2e_dkim_verify FILE: DKIM-verify FILE offline against opendkim's key.
e2e_dkim_verify() {
    "$E2E_PY" "$E2E_SRC/dkimverify.py" "$1" "$E2E_DKIM/e2e.txt"
}

# e2e_milter_hwm_kb: the milter's peak resident set size (VmHWM) in kB.
e2e_milter_hwm_kb() {
    awk '/^VmHWM:/ { print $2 }' "/proc/$E2E_MILTER_PID/status"
}
