#!/usr/bin/perl
# viaduct -t -f FILE: the real binary checks configuration files.  A good file
# exits 0 and says "configuration OK"; a bad one exits 1 and lists every error
# as FILE:LINE:COL: message on stderr.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;

my $src = "$FindBin::Bin/..";
my $dir = tmpdir_keep();
my $n = 0;

# Runs `viaduct -t -f FILE`; returns (exit code, stdout, stderr, signal).
sub vcheck {
	my ($file) = @_;
	my ($out, $err) = ("$dir/out", "$dir/err");
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		open(STDIN, '<', '/dev/null');
		open(STDOUT, '>', $out);
		open(STDERR, '>', $err);
		alarm 30;	# safety net only
		exec(viaduct_bin(), '-t', '-f', $file) or exit 127;
	}
	waitpid($pid, 0);
	return ($? >> 8, slurp($out) // '', slurp($err) // '', $? & 127);
}

sub conf_file {
	my ($text) = @_;
	my $f = sprintf("%s/c%02d.conf", $dir, ++$n);
	spew($f, $text);
	return $f;
}

# --- every property, with a value other than its default ---
my @set = (
	[ '/ip proxy', 'enabled=yes' ], [ '/ip proxy', 'src-address=192.0.2.1' ],
	[ '/ip proxy', 'port=8080,3128' ], [ '/ip proxy', 'anonymous=yes' ],
	[ '/ip proxy', 'parent-proxy=2001:db8::1' ], [ '/ip proxy', 'parent-proxy-port=3128' ],
	[ '/ip proxy', 'cache-administrator="noc team"' ], [ '/ip proxy', 'max-cache-size=20GiB' ],
	[ '/ip proxy', 'max-cache-object-size=100000' ], [ '/ip proxy', 'cache-on-disk=yes' ],
	[ '/ip proxy', 'cache-path=/var/cache/viaduct' ], [ '/ip proxy', 'max-client-connections=1000' ],
	[ '/ip proxy', 'max-server-connections=1000' ], [ '/ip proxy', 'max-fresh-time=1w2d' ],
	[ '/ip proxy', 'serialize-connections=yes' ], [ '/ip proxy', 'always-from-cache=yes' ],
	[ '/ip proxy', 'cache-hit-dscp=63' ],
	[ '/viaduct', 'workers=3' ], [ '/viaduct', 'user=proxy' ], [ '/viaduct', 'group=proxy' ],
	[ '/viaduct', 'pid-file=var/viaduct.pid' ], [ '/viaduct', 'run-dir=var/run' ],
	[ '/viaduct', 'error-log=stderr' ], [ '/viaduct', 'log-level=debug' ],
	[ '/viaduct', 'access-log=none' ], [ '/viaduct', 'access-log-format=combined' ],
	[ '/viaduct', 'listen-address=127.0.0.1,::1' ], [ '/viaduct', 'listen=[::1]:3129,127.0.0.1:3130' ],
	[ '/viaduct', 'via-pseudonym=cache1' ], [ '/viaduct', 'shutdown-timeout=00:01:00' ],
	[ '/viaduct', 'request-header-timeout=5s' ], [ '/viaduct', 'keepalive-timeout=1m' ],
	[ '/viaduct', 'connect-timeout=250ms' ], [ '/viaduct', 'response-timeout=1h30m' ],
	[ '/viaduct', 'idle-timeout=90' ], [ '/viaduct', 'max-request-line=8KiB' ],
	[ '/viaduct', 'max-header-size=1MiB' ], [ '/viaduct', 'max-headers=64' ],
	[ '/viaduct', 'server-idle-timeout=15s' ], [ '/viaduct', 'max-idle-per-server=4' ],
	[ '/viaduct', 'max-request-body=100MiB' ], [ '/viaduct', 'connect-ports=443,8443' ],
	[ '/viaduct', 'tunnel-idle-timeout=1h' ], [ '/viaduct', 'transparent-ports=3129' ],
	[ '/viaduct', 'reverse-ports=80' ], [ '/viaduct', 'reverse-origins=www.example.com=10.0.0.5:8080' ],
	[ '/viaduct', 'dns-servers=192.0.2.53' ],
	[ '/viaduct', 'admin-address=127.0.0.1,::1' ], [ '/viaduct', 'admin-port=8081' ],
	[ '/viaduct', 'admin-allow=10.0.0.0/8,2001:db8::/32' ],
	[ '/viaduct', 'syslog-socket=/run/systemd/journal/syslog' ],
	[ '/viaduct', 'parents=10.0.0.1:3128/2' ], [ '/viaduct', 'parent-hold-time=1m' ],
);
my $tbl = slurp("$src/src/conf_tbl.h") // '';
my @names = $tbl =~ /^CONF_PROP\("([a-z-]+)"/mg;
ok(@names >= 30, "conf_tbl.h lists the properties (" . scalar(@names) . ")");
my %covered = map { ($_->[1] =~ /^([a-z-]+)=/)[0] => 1 } @set;
is_deeply([ grep { !$covered{$_} } @names ], [], "this test sets every property in conf_tbl.h");

{
	my $text = join('', map { "$_->[0]\nset $_->[1]\n" } @set);
	my $f = conf_file($text);
	my ($rc, $out, $err, $sig) = vcheck($f);
	is($sig, 0, "every property: no signal");
	is($rc, 0, "every property set to a non-default value: exit 0") or diag($err);
	like($out . $err, qr/^\Q$f\E: configuration OK$/m, "every property: configuration OK");
	my @other = grep { length && !/^\Q$f\E:\d+:\d+: warning: / } split /\n/, $err;
	is_deeply(\@other, [], "every property: stderr holds warnings only");
	my @warn = $err =~ /^\Q$f\E:\d+:\d+: warning: (\S+?)=/mg;
	is_deeply([ sort @warn ], [],
	    "every property is implemented: none warns \"accepted but not implemented yet\"");
	unlike($err, qr/not implemented/, "no property says it is not implemented");
}

# the listener-mode properties are checked by `viaduct -t`, at their column
# (they used to be noticed only by each worker at start)
{
	my $text = "/viaduct\nset transparent-ports=80,99999\nset reverse-ports=x\n" .
	    "set reverse-origins=www.example=10.0.0.1:80,nohost\nset transparent-ports=3128\n";
	my $f = conf_file($text);
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, "bad listener-mode lists: exit 1");
	is($err, "$f:2:23: transparent-ports: expected a comma list of ports 1-65535\n" .
	    "$f:3:19: reverse-ports: expected a comma list of ports 1-65535\n" .
	    qq{$f:4:21: reverse-origins: bad item "nohost" (expected HOST=ORIGIN:PORT)\n},
	    "bad listener-mode lists: each named with FILE:LINE:COL");
	($rc, $out, $err) = vcheck(conf_file("/viaduct\nset transparent-ports=80,8080 reverse-ports=81 " .
	    "reverse-origins=a.example=127.0.0.1:8081,b.example=[::1]:80\n"));
	is($rc, 0, "good listener-mode lists: exit 0") or diag($err);
}

# via-pseudonym is written into Via lines: a token, optionally :port
{
	my $f = conf_file("/viaduct\nset via-pseudonym=\"my proxy\"\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'a via-pseudonym with a blank: exit 1');
	like($err, qr/^\Q$f\E:2:19: via-pseudonym must be a token/, '... named with FILE:LINE:COL');
	($rc, $out, $err) = vcheck(conf_file("/viaduct\nset via-pseudonym=\"vd\\r\\nX-Injected: 1\"\n"));
	is($rc, 1, 'a via-pseudonym with CR LF: exit 1');
	($rc, $out, $err) = vcheck(conf_file("/viaduct\nset via-pseudonym=cache1.example:3128\n"));
	is($rc, 0, 'token:port is a good via-pseudonym') or diag($err);
}

# parent-proxy and parent-proxy-port make a parent only together: either
# alone loads (a router's export may hold it) but is named as unused
{
	my $f = conf_file("/ip proxy\nset enabled=yes parent-proxy=192.0.2.1\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 0, 'parent-proxy without parent-proxy-port: loads');
	is($err, "$f:2:30: warning: parent-proxy is set but parent-proxy-port is 0: " .
	    "no parent is used until both are set\n", '... with a warning at its FILE:LINE:COL');
	$f = conf_file("/ip proxy\nset parent-proxy-port=3128\n");
	($rc, $out, $err) = vcheck($f);
	is($rc, 0, 'parent-proxy-port without parent-proxy: loads');
	like($err, qr/^\Q$f\E:2:23: warning: parent-proxy-port is set but parent-proxy is none/,
	    '... with a warning at its FILE:LINE:COL');
}

# dns-servers is checked as c-ares reads it (a bad one failed every worker
# at start while -t said OK and the daemon exited 0)
{
	my $f = conf_file("/viaduct\nset dns-servers=192.0.2.53,garbage\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'a bad dns-servers item: exit 1');
	like($err, qr/^\Q$f\E:2:17: dns-servers: bad item "garbage"/, '... named with FILE:LINE:COL');
	($rc, $out, $err) = vcheck(conf_file("/viaduct\nset dns-servers=192.0.2.53:5353,[2001:db8::1]:53,::1\n"));
	is($rc, 0, 'addresses with and without ports: exit 0') or diag($err);
}

# times: empty, overflowing, repeated or misordered units are errors (they
# were read as 0, wrapped around, or summed)
for my $t ('', '30500568905w', '1s1s1s', '1m1h', '1h00:30') {
	my $f = conf_file("/viaduct\nset connect-timeout=\"$t\"\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, "connect-timeout=\"$t\": exit 1");
	like($err, qr/^\Q$f\E:2:\d+: invalid value "\Q$t\E" for connect-timeout/, '... invalid value');
}
{
	my ($rc, $out, $err) = vcheck(conf_file("/ip proxy\nset max-fresh-time=1d00:30:00\n/viaduct\nset " .
	    "shutdown-timeout=1h30m connect-timeout=250ms\n"));
	is($rc, 0, 'days then a clock, units largest first: exit 0') or diag($err);
}

# every message is one line with a real position
{
	my $f = conf_file("/ip proxy access\nadd action=deny redirect-to=\"http://x/\\0D\\0AInjected: 1\"\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'a redirect-to with CR LF: exit 1');
	is($err, "$f:2:29: invalid redirect-to \"http://x/\\0D\\0AInjected: 1\" (expected a URL " .
	    "without blanks or control characters)\n", '... one line, the bytes shown escaped');
	$f = conf_file("/ip proxy\nset parent-proxy=10.0.0.1 parent-proxy-port=3128\n" .
	    "/viaduct\nset parents=10.0.0.1:3128\n");
	($rc, $out, $err) = vcheck($f);
	is($err, "$f:4:13: parents: 10.0.0.1:3128 is listed twice\n", 'a parent listed twice: at parents=');
}

# transparent-ports and reverse-ports name listeners
{
	my $f = conf_file("/viaduct\nset listen=127.0.0.1:81 transparent-ports=81 reverse-ports=81\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'a port both transparent and reverse: exit 1');
	like($err, qr/^\Q$f\E:2:\d+: port 81 is in both transparent-ports and reverse-ports$/m, '... said');
	$f = conf_file("/viaduct\nset transparent-ports=9999,3129,3129 listen=127.0.0.1:3129\n");
	($rc, $out, $err) = vcheck($f);
	is($rc, 0, 'a mode port without a listener loads');
	like($err, qr/^\Q$f\E:2:23: warning: transparent-ports: port 9999 is no listener/m,
	    '... with a warning');
	like($err, qr/^\Q$f\E:2:23: warning: transparent-ports: port 3129 is named twice$/m,
	    'a port named twice: a warning');
}

# a user or group that does not exist fails -t as it fails the start
{
	my $f = conf_file("/viaduct\nset user=nosuchuser-vd\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'an unknown user: -t exits 1');
	is($err, "$f: user nosuchuser-vd does not exist\n", '... saying so');
	$f = conf_file("/viaduct\nset user=nobody group=nosuchgroup-vd\n");
	($rc, $out, $err) = vcheck($f);
	is($rc, 1, 'an unknown group: -t exits 1');
	is($err, "$f: group nosuchgroup-vd does not exist\n", '... saying so');
}

# each property at its default, written out: no warning at all
{
	my $text = "/ip proxy\nset enabled=no src-address=:: port=8080 anonymous=no parent-proxy=0.0.0.0 \\\n" .
	    "    parent-proxy-port=0 cache-administrator=webmaster max-cache-size=none \\\n" .
	    "    max-cache-object-size=50000KiB cache-on-disk=no cache-path=proxy-cache \\\n" .
	    "    max-fresh-time=3d serialize-connections=no always-from-cache=no cache-hit-dscp=4\n";
	my $f = conf_file($text);
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 0, "RouterOS defaults written out: exit 0");
	is($err, '', "RouterOS defaults written out: no warning");
}

# --- each kind of error, all in one file, all reported with FILE:LINE:COL ---
{
	my $text = <<'CONF';
# every kind of mistake, one per line
/ip proxy
set max-cache-sise=1GiB
set enabled=maybe
set max-cache-size=100KB
set cache-hit-dscp=64
set enabled yes
add port=8080
set cache-administrator="unterminated
set enabled=yes \
    max-client-connections=0
/ip firewall filter
add chain=forward action=drop
/ip proxy access
set action=deny
add dst-hots=x action=deny
add action=block
/viaduct
set connect-timeout=5x workers=65
set cache-administrator=x
CONF
	my $f = conf_file($text);
	my ($rc, $out, $err, $sig) = vcheck($f);
	is($sig, 0, "bad file: no signal");
	is($rc, 1, "bad file: exit 1");
	unlike($out . $err, qr/configuration OK/, "bad file: not OK");
	my @want = (
		qq{3:5: unknown property "max-cache-sise" in /ip proxy (did you mean "max-cache-size"?)},
		qq{4:13: invalid value "maybe" for enabled (expected yes or no)},
		qq{5:20: bad unit "KB" in "100KB" for max-cache-size (expected KiB, MiB, GiB or TiB)},
		qq{6:20: value "64" out of range for cache-hit-dscp (0..63)},
		qq{7:5: missing "=" after "enabled" (expected NAME=VALUE)},
		qq{7:13: missing "=" after "yes" (expected NAME=VALUE)},
		qq{8:1: "add" is not allowed in /ip proxy (use "set")},
		qq{9:25: unterminated quoted string (no closing '"' on this line)},
		qq{11:28: value "0" out of range for max-client-connections (1..1000000)},
		qq{12:1: unknown section "/ip firewall filter" (expected /ip proxy, /ip proxy access, /ip proxy cache, /ip proxy direct or /viaduct)},
		qq{15:1: "set" is not allowed in /ip proxy access (use "add")},
		qq{16:5: unknown property "dst-hots" in /ip proxy access (did you mean "dst-host"?)},
		qq{17:12: invalid value "block" for action (expected allow or deny)},
		qq{19:21: bad unit "x" in "5x" for connect-timeout (expected w, d, h, m, s or ms)},
		qq{19:32: value "65" out of range for workers (1..64)},
		qq{20:5: unknown property "cache-administrator" in /viaduct (it belongs in /ip proxy)},
	);
	my @lines = grep { length } split /\n/, $err;
	is(scalar(@lines), scalar(@want), "bad file: every error reported, one line each")
	    or diag($err);
	for my $w (@want) {
		my ($pos, $msg) = $w =~ /^(\d+:\d+): (.*)$/;
		ok(grep($_ eq "$f:$w", @lines), "error at $pos: $msg") or diag($err);
	}
	is_deeply(\@lines, [ map { "$f:$_" } @want ], "errors come in file order");
}

# an escape error inside a quoted value, on its own
{
	my $f = conf_file("/ip proxy\nset cache-administrator=\"a\\qb\"\n");
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 1, "unknown escape: exit 1");
	is($err, qq{$f:2:27: unknown escape "\\q" in a quoted value (expected one of \\" \\\\ \\n \\t \\\$ \\? \\_ \\a \\b \\f \\r \\v or \\XX hex)\n},
	    "unknown escape: exact message");
}

# --- the shipped and example configurations load ---
for my $c ("conf/viaduct.conf", "conf/dev.conf", glob("$src/conf/examples/*.conf")) {
	my $f = $c =~ m{^/} ? $c : "$src/$c";
	my $name = $f =~ s{.*/(conf/)}{$1}r;
	ok(-f $f, "$name exists");
	my ($rc, $out, $err, $sig) = vcheck($f);
	is($rc, 0, "$name loads: exit 0") or diag($err);
	like($out . $err, qr/^\Q$f\E: configuration OK$/m, "$name: configuration OK");
	my @other = grep { length && !/^\Q$f\E:\d+:\d+: warning: / } split /\n/, $err;
	is_deeply(\@other, [], "$name: warnings only");
}
{
	my $f = "$src/conf/examples/routeros-export.conf";
	my ($rc, $out, $err) = vcheck($f);
	is($rc, 0, "the RouterOS export's rules compile");
	unlike($err, qr/not enforced/, "rules are enforced: no 'not enforced' warning");
}
{
	my $f = "$src/conf/viaduct.conf";
	my $t = slurp($f) // '';
	my @la = $t =~ /^[^#\n]*listen-address=(\S+)/mg;
	is_deeply(\@la, [ '127.0.0.1,::1' ], "the shipped config listens on loopback only");
	like($t, qr/user=proxy group=proxy/, "the shipped config switches to proxy:proxy");
}

# --- a missing file: one clear line, exit 1 ---
{
	my $f = "$dir/no-such.conf";
	my ($rc, $out, $err, $sig) = vcheck($f);
	is($sig, 0, "missing file: no signal");
	is($rc, 1, "missing file: exit 1");
	my @lines = grep { length } split /\n/, $err;
	is(scalar(@lines), 1, "missing file: one line") or diag($err);
	like($err, qr/\Q$f\E.*No such file or directory/, "missing file: names the file and the reason");
	unlike($out, qr/configuration OK/, "missing file: not OK");
}

done_testing();
