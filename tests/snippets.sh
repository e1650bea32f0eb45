#!/bin/sh
# snippets.sh - every MTA snippet the docs give, applied to a real
# configuration, and the sockets and paths they name compared.
#
# SYNOPSIS
#	tests/snippets.sh	(make check runs it)
#
# DESCRIPTION
#	Snippets come from README.md's ``` blocks, the man pages' .Bd -literal
#	blocks and contrib/.  A block is cut into sections at lines
#	"# /etc/postfix/FILE" or "# /etc/smime-milter.conf"; a section without
#	such a line is a main.cf one when every line is "name = value" (or a
#	comment or continuation), a smime-milter.conf one when every line is
#	"Key value", a sendmail.mc one when it holds INPUT_MAIL_FILTER.
#
#	Postfix (main.cf sections, contrib/postfix/main.cf, master.cf): each
#	goes alone into a scratch configuration directory, as an operator
#	would paste it; then `postconf -c DIR -n` (main.cf) or `-M`/`-P`
#	(master.cf) must print no warning, no value may hold a "#" (Postfix
#	keeps a comment after a value as part of it: mail is deferred), and
#	the first entry of every smtpd_milters / non_smtpd_milters list (as
#	postconf expands it) is smime-milter: converted to libmilter syntax
#	(inet:HOST:PORT -> inet:PORT@HOST, unix:RELATIVE -> under Postfix's
#	queue directory) it must be a Socket of a documented
#	smime-milter.conf, and no later entry may be one.
#
#	Sendmail (contrib/sendmail.mc and any README block with
#	INPUT_MAIL_FILTER): built into a sendmail.cf with sendmail-cf's own
#	cf.m4 (Debian's package, unpacked by tests/sendmail/sm.sh as the
#	Sendmail e2e test does), m4 silent; the smime-milter X line's S= must
#	be a documented Socket, its macro lists must hold the macros
#	smime-milter uses.
#
#	Layout: every "Socket VALUE" anywhere in README, man pages and
#	contrib/ (comments included) is one of the two below, every inet port
#	named is smime-milter's or opendkim's, and a unix socket's directory
#	is writable under contrib/systemd's unit (ReadWritePaths).
#
#	Prints "PASS:"/"FAIL:" lines and "N passed, N failed"; exit 1 when
#	anything failed.  A missing postconf or m4 fails under
#	./quickstart check (tests/need.sh) and skips (77) otherwise.

: "${top_srcdir:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${top_builddir:=$top_srcdir}"
export top_srcdir top_builddir
. "$top_srcdir/tests/need.sh"
need_tool postconf postfix
need_tool m4 m4
need_tool dpkg-deb dpkg

# The one layout: a unix socket a chrooted Debian Postfix reaches
# (unix:smime-milter/milter.sock in its terms) and one inet port; opendkim
# on its usual port.
LAYOUT_UNIX=unix:/var/spool/postfix/smime-milter/milter.sock
LAYOUT_INET=inet:8893@127.0.0.1
PORT_SMIME=8893 PORT_DKIM=8891

W=$top_builddir/tests/work/snippets
pass=0 fail=0
ok() { pass=$((pass + 1)); echo "PASS: $*"; }
bad() { fail=$((fail + 1)); echo "FAIL: $*"; }
rm -rf "$W" && mkdir -p "$W/blocks" || exit 99

# --- extraction -------------------------------------------------------------

# blocks: every README code block and man page literal block, cut into
# sections, as $W/blocks/N.KIND with its origin (FILE:LINE) in N.from.
awk -v out="$W/blocks" -v root="$top_srcdir/" '
function flush() {
	if (n == 0) return
	if (kind == "") kind = guess()
	if (kind != "") {
		sec++
		f = out "/" sec "." kind
		for (i = 1; i <= n; i++) print lines[i] > f
		close(f)
		print from > (out "/" sec ".from"); close(out "/" sec ".from")
	}
	n = 0; kind = ""
}
function guess(   i, l, cf, conf, content) {
	cf = conf = 1; content = 0
	for (i = 1; i <= n; i++) {
		l = lines[i]
		if (l ~ /INPUT_MAIL_FILTER/) return "mc"
		if (l ~ /^[ \t]*$/ || l ~ /^#/) continue
		if (l ~ /^[ \t]/) { conf = 0; continue }   # continuation
		content++
		if (l !~ /^[a-z_][a-z0-9_]*[ \t]*=/) cf = 0
		if (l !~ /^[A-Z][A-Za-z]+([ \t]|$)/) conf = 0
	}
	if (!content) return ""
	if (cf) return "main.cf"
	if (conf) return "conf"
	return ""
}
function name() { f = FILENAME; if (index(f, root) == 1) f = substr(f, length(root) + 1); return f }
function start(line) { flush(); from = name() ":" line }
FNR == 1 { flush(); inblock = 0 }
# README: ``` fences; man pages: .Bd -literal ... .Ed
FILENAME ~ /\.md$/ && /^```/ {
	if (inblock) { flush(); inblock = 0 } else { inblock = 1; start(FNR + 1) }
	next
}
FILENAME !~ /\.md$/ && /^\.Bd -literal/ { inblock = 1; start(FNR + 1); next }
FILENAME !~ /\.md$/ && /^\.Ed/ { if (inblock) flush(); inblock = 0; next }
!inblock { next }
{
	l = $0
	if (FILENAME !~ /\.md$/) { gsub(/\\e/, "\\", l); gsub(/\\&/, "", l) }
	if (l ~ /^# \/etc\/postfix\/[A-Za-z_.]+$/ || l ~ /^# \/etc\/smime-milter\.conf$/) {
		flush(); from = name() ":" FNR
		if (l ~ /main\.cf$/) kind = "main.cf"
		else if (l ~ /master\.cf$/) kind = "master.cf"
		else if (l ~ /smime-milter\.conf$/) kind = "conf"
		else kind = "map"
		next
	}
	lines[++n] = l
}
END { flush() }
' "$top_srcdir/README.md" "$top_srcdir"/man/*.[58] || exit 99
rm -f "$W"/blocks/*.map
n=$(ls "$W"/blocks/*.main.cf 2>/dev/null | wc -l)
cp "$top_srcdir/contrib/postfix/main.cf" "$W/blocks/contrib.main.cf"
echo "contrib/postfix/main.cf" >"$W/blocks/contrib.from"
cp "$top_srcdir/contrib/postfix/master.cf" "$W/blocks/contribm.master.cf"
echo "contrib/postfix/master.cf" >"$W/blocks/contribm.from"
cp "$top_srcdir/contrib/sendmail.mc" "$W/blocks/contrib.mc"
[ "$n" -gt 0 ] && [ -n "$(ls "$W"/blocks/*.conf 2>/dev/null)" ] &&
    ok "found $n main.cf snippets and $(ls "$W"/blocks/*.conf | wc -l) smime-milter.conf snippets in README.md and man/" ||
    bad "no main.cf or smime-milter.conf snippets found in README.md and man/"
from() { _b=${1##*/}; cat "${1%/*}/${_b%%.*}.from" 2>/dev/null || echo "$_b"; }

# --- documented sockets -------------------------------------------------------

# norm SOCKET: libmilter syntax, local: as unix:.
norm() { case $1 in local:*) echo "unix:${1#local:}" ;; *) echo "$1" ;; esac; }

sockets=
for c in "$W"/blocks/*.conf; do
    s=$(awk 'tolower($1) == "socket" { print $2 }' "$c")
    [ -n "$s" ] && sockets="$sockets $(norm "$s")"
done
sockets=$(printf '%s\n' $sockets | sort -u | tr '\n' ' ')
[ -n "$sockets" ] && ok "documented Sockets: $sockets" ||
    bad "no smime-milter.conf snippet names a Socket"

# every "Socket VALUE" in the docs, comments included
grep -n -o -E "Socket[[:space:]]+\"?(inet6?|unix|local):[^[:space:]\"'\`)]+" \
    "$top_srcdir/README.md" "$top_srcdir"/man/*.[58] \
    "$top_srcdir"/contrib/postfix/* "$top_srcdir/contrib/sendmail.mc" \
    "$top_srcdir"/contrib/systemd/* 2>/dev/null |
    sed "s|^$top_srcdir/||" >"$W/socket-mentions"
nbad=$fail
while IFS= read -r m; do
    v=$(norm "$(printf '%s\n' "$m" | sed 's/.*Socket[[:space:]]*"\{0,1\}//')")
    case $v in
        "$LAYOUT_UNIX"|"$LAYOUT_INET") ;;
        *) bad "${m%%:Socket*}: Socket $v is neither $LAYOUT_UNIX nor $LAYOUT_INET" ;;
    esac
done <"$W/socket-mentions"
[ -s "$W/socket-mentions" ] && [ $fail = "$nbad" ] &&
    ok "all $(wc -l <"$W/socket-mentions") Socket mentions follow the layout"

# every inet port named anywhere: smime-milter's or opendkim's
grep -n -o -E 'inet6?:([0-9]+@[0-9.]+|[0-9.]+:[0-9]+)' \
    "$top_srcdir/README.md" "$top_srcdir"/man/*.[58] \
    "$top_srcdir"/contrib/postfix/* "$top_srcdir/contrib/sendmail.mc" \
    "$top_srcdir"/contrib/systemd/* 2>/dev/null | sed "s|^$top_srcdir/||" >"$W/ports"
others=$(sed -E 's/.*inet6?:([0-9]+)@.*/\1/; s/.*inet6?:[0-9.]+:([0-9]+)$/\1/' "$W/ports" |
    grep -v -x -e "$PORT_SMIME" -e "$PORT_DKIM" | sort -u | tr '\n' ' ')
[ -z "$others" ] && ok "every inet port is $PORT_SMIME (smime-milter) or $PORT_DKIM (opendkim)" ||
    bad "ports other than $PORT_SMIME/$PORT_DKIM: $others($(grep -v -e ":$PORT_SMIME" -e "$PORT_SMIME@" -e ":$PORT_DKIM" -e "$PORT_DKIM@" "$W/ports" | tr '\n' ' '))"

# the unit may write where a documented unix socket lives
unit=$top_srcdir/contrib/systemd/smime-milter.service
for s in $sockets; do
    case $s in unix:*) ;; *) continue ;; esac
    d=$(dirname "${s#unix:}")
    if sed -n 's/^ReadWritePaths=//p' "$unit" | tr ' ' '\n' | sed 's/^-//' |
            grep -q -x -F "$d"; then
        ok "contrib/systemd: $d (of $s) is in ReadWritePaths"
    else
        bad "contrib/systemd: $d (of $s) is not in ReadWritePaths: the daemon cannot create its socket"
    fi
done

# --- Postfix ----------------------------------------------------------------

QDIR=$(postconf -d -h queue_directory 2>/dev/null)
# pf2milter ENTRY: a Postfix milter address in libmilter syntax.
pf2milter() {
    case $1 in
        unix:/*) echo "$1" ;;
        unix:*) echo "unix:$QDIR/${1#unix:}" ;;
        inet:\[*) _h=${1#inet:\[}; echo "inet6:${_h##*]:}@${_h%%]*}" ;;
        inet:*) _h=${1#inet:}; echo "inet:${_h##*:}@${_h%:*}" ;;
        *) echo "$1" ;;
    esac
}
# milters WHERE LIST: smime-milter first, a documented socket, and only there.
milters() {
    _first=yes _ok=yes
    for _m in $(printf '%s\n' "$2" | tr ',' ' '); do
        _s=$(pf2milter "$_m")
        case " $sockets " in
            *" $_s "*) [ $_first = yes ] ||
                { bad "$1: $_m (= $_s) is smime-milter's socket but not first"; _ok=no; } ;;
            *) [ $_first = no ] ||
                { bad "$1: first milter $_m (= $_s) is not a documented Socket ($sockets)"; _ok=no; } ;;
        esac
        _first=no
    done
    [ $_ok = yes ] && ok "$1: $2"
}

# nohash WHERE FILE: no value of "name = value" lines holds a "#".
nohash() {
    if grep -E '^[^=]+ = .*#' "$2" >"$W/hash" 2>&1; then
        bad "$1: a value holds \"#\" (Postfix keeps comments after values): $(cat "$W/hash")"
        return 1
    fi
}

i=0
for snip in "$W"/blocks/*.main.cf "$W"/blocks/*.master.cf; do
    [ -f "$snip" ] || continue
    i=$((i + 1))
    where=$(from "$snip")
    dir=$W/pf$i
    mkdir -p "$dir"
    case $snip in
        *.master.cf) : >"$dir/main.cf"; cp "$snip" "$dir/master.cf"
            postconf -c "$dir" -M >/dev/null 2>"$dir/err" &&
            postconf -c "$dir" -P >"$dir/out" 2>>"$dir/err" ;;
        *) cp "$snip" "$dir/main.cf"; : >"$dir/master.cf"
            postconf -c "$dir" -n >"$dir/out" 2>"$dir/err" ;;
    esac
    rc=$?
    if [ $rc -ne 0 ] || [ -s "$dir/err" ]; then
        bad "$where: postconf (exit $rc): $(cat "$dir/err")"
        continue
    fi
    nohash "$where" "$dir/out" || continue
    found=0
    for p in smtpd_milters non_smtpd_milters; do
        case $snip in
            *.master.cf)
                sed -n "s|^\([^/]*/[^/]*\)/$p = ||p" "$dir/out" >"$dir/$p" ;;
            *)  grep -q "^$p = " "$dir/out" || continue
                postconf -c "$dir" -x -h "$p" >"$dir/$p" 2>>"$dir/err" ;;
        esac
        while IFS= read -r v; do
            [ -n "$v" ] || continue
            found=1
            milters "$where: $p" "$v"
        done <"$dir/$p"
    done
    [ -s "$dir/err" ] && bad "$where: postconf -x: $(cat "$dir/err")"
    [ $found = 1 ] || ok "$where: postconf accepts it (no milter list)"
done

# --- Sendmail ---------------------------------------------------------------

# sendmail-cf's cf.m4: the Sendmail e2e test's unpacked Debian packages.
. "$top_srcdir/tests/e2e/lib.sh"
. "$top_srcdir/tests/sendmail/sm.sh"
if ! sm_unpack >"$W/sm-unpack.log" 2>&1; then
    bad "cannot get sendmail-cf (apt-get download sendmail-bin sendmail-cf): $(tail -n 5 "$W/sm-unpack.log")"
else
    for snip in "$W"/blocks/*.mc; do
        [ -f "$snip" ] || continue
        where=$(from "$snip")
        [ "${snip##*/}" = contrib.mc ] && where=contrib/sendmail.mc
        base=${snip%.mc}
        printf '%s\n' 'divert(-1)' 'divert(0)dnl' "OSTYPE(\`linux')dnl" \
            "include(\`$snip')dnl" "MAILER(\`local')dnl" "MAILER(\`smtp')dnl" \
            >"$base.test.mc"
        if ! m4 -D_CF_DIR_="$SM_CF_DIR/" "$SM_CF_DIR/m4/cf.m4" "$base.test.mc" \
                >"$base.cf" 2>"$base.m4err" || [ -s "$base.m4err" ]; then
            bad "$where: m4 with sendmail-cf's cf.m4: $(cat "$base.m4err")"
            continue
        fi
        x=$(grep '^Xsmime-milter, ' "$base.cf")
        s=$(printf '%s\n' "$x" | sed -n 's/.*[ ,]S=\([^,]*\).*/\1/p')
        s=$(norm "$s")
        case " $sockets " in
            *" $s "*) ok "$where: $x" ;;
            *) bad "$where: smime-milter's socket ${s:-(none)} is not a documented Socket ($sockets): ${x:-no Xsmime-milter line}" ;;
        esac
        printf '%s\n' "$x" | grep -q ', F=T' ||
            bad "$where: smime-milter without F=T (tempfail when it is down): $x"
        envfrom=$(sed -n 's/^O Milter\.macros\.envfrom=//p' "$base.cf")
        connect=$(sed -n 's/^O Milter\.macros\.connect=//p' "$base.cf")
        if printf ', %s,\n' "$envfrom" | grep -q ', {auth_authen},' &&
           printf ', %s,\n' "$envfrom" | grep -q ', i,' &&
           printf ', %s,\n' "$connect" | grep -q ', {daemon_name},'; then
            ok "$where: macros: envfrom $envfrom; connect $connect"
        else
            bad "$where: macro lists lack i/{auth_authen} (envfrom: $envfrom) or {daemon_name} (connect: $connect)"
        fi
    done
fi

echo "$pass passed, $fail failed"
[ $fail -eq 0 ]
