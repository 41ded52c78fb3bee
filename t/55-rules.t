#!/usr/bin/perl
# /ip proxy access through the real binary: deny -> 403 page, redirect-to ->
# 302 with Location, allow, no match -> allow, and each classifier and
# pattern form on real requests (src-address, dst-port, method, path
# wildcard vs regex, dst-host case, negation, disabled rules, dst-address on
# a literal address).  A denied request never reaches the origin.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new;
my $op = $origin->port;

my $rules = <<"RULES";
/ip proxy access
add path=/open/* action=allow comment="first match wins"
add dst-host=blocked.test action=deny
add path=*.mp3 action=deny redirect-to="http://intranet.example/blocked.html?a=1&b=2"
add path=:\\.exe\$ action=deny
add path=:^/anch action=deny
add method=delete action=deny
add dst-port=!$op action=deny
add dst-host=*.CaseHost.test action=deny
add dst-host=!*.ok.test path=/neg/* action=deny
add path=/off/* action=deny disabled=yes
add src-address=127.0.0.2 action=deny
add dst-address=127.0.0.0/8 path=/dst/* action=deny
add path=/q?q action=deny
RULES

my $v = start_viaduct(conf => Viaduct::Test::default_conf() . $rules);
my $port = $v->port;

sub get {
	my ($url, %o) = @_;
	my $method = $o{method} // 'GET';
	my ($host) = $url =~ m{^http://([^/]+)};
	return http_raw($port, "$method $url HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n",
	    %o);
}
sub status { my ($r) = @_; defined $r && $r =~ m{^HTTP/1\.1 (\d{3}) } ? $1 : 'none' }

my $n0 = scalar $origin->requests;
sub reached { my $n = scalar $origin->requests; my $d = $n - $n0; $n0 = $n; $d }

# --- no match allows; allow rules forward
my $r = get("http://127.0.0.1:$op/plain");
is(status($r), 200, 'no rule matches: allowed (access default)');
like($r, qr{hello from origin: /plain}, 'the origin answered');
is(reached(), 1, 'one request reached the origin');

$r = get("http://127.0.0.1:$op/open/x.mp3");
is(status($r), 200, 'an allow rule above a deny rule wins (first match)');
reached();

# --- deny -> 403 with the error page
$r = get("http://blocked.test:$op/");
is(status($r), 403, 'dst-host deny: 403');
like($r, qr{Content-Type: text/html}i, '403 carries the error page');
like($r, qr{access denied}, 'the page says why');
is(reached(), 0, 'a denied request never reaches the origin');

# --- redirect-to -> 302
$r = get("http://127.0.0.1:$op/music/song.mp3");
is(status($r), 302, 'deny with redirect-to: 302');
like($r, qr{\r\nLocation: http://intranet\.example/blocked\.html\?a=1&b=2\r\n},
    'Location is redirect-to, byte for byte');
like($r, qr{href="http://intranet\.example/blocked\.html\?a=1&amp;b=2"}, 'body link is HTML-escaped');
my ($cl) = $r =~ /\r\nContent-Length: (\d+)\r\n/;
my ($body) = $r =~ /\r\n\r\n(.*)\z/s;
is(length($body), $cl, 'the 302 body matches its Content-Length');
is(reached(), 0, 'redirected request not forwarded');

# --- path: wildcard is whole-string, regex searches
is(status(get("http://127.0.0.1:$op/song.mp3.txt")), 200, 'path wildcard *.mp3 is whole-string');
is(status(get("http://127.0.0.1:$op/a/b/setup.exe")), 403, 'path regex with $ anchor');
is(status(get("http://127.0.0.1:$op/a/setup.exe.txt")), 200, '... $ holds');
is(status(get("http://127.0.0.1:$op/anchored")), 403, 'path regex with ^ anchor');
is(status(get("http://127.0.0.1:$op/x/anchored")), 200, '... ^ holds');
is(status(get("http://127.0.0.1:$op/qxq")), 403, 'path wildcard ? matches one character');
is(status(get("http://127.0.0.1:$op/qxxq")), 200, '... and only one');
reached();

# --- method
is(status(get("http://127.0.0.1:$op/m", method => 'DELETE')), 403, 'method=delete denies DELETE');
is(status(get("http://127.0.0.1:$op/m", method => 'GET')), 200, '... not GET');
reached();

# --- dst-port with negation: only the origin's port is allowed
my $other = Viaduct::Test::free_port();
is(status(get("http://127.0.0.1:$other/x")), 403, 'dst-port=!N denies another port');
is(reached(), 0, 'not forwarded');

# --- dst-host is case-insensitive both ways
is(status(get("http://www.casehost.test:$op/")), 403, 'dst-host *.CaseHost.test matches www.casehost.test');
is(status(get("http://WWW.CASEHOST.TEST:$op/")), 403, '... and upper case');
# a fully qualified name with its trailing dot is the same name
is(status(get("http://www.casehost.test.:$op/")), 403, 'dst-host *.CaseHost.test matches www.casehost.test.');
is(status(get("http://blocked.test.:$op/")), 403, 'dst-host=blocked.test matches blocked.test.');

# --- negated host: a.ok.test is excluded, so the deny rule does not apply
# (the name does not resolve: anything but a 403 shows the rule passed it)
isnt(status(get("http://a.ok.test:$op/neg/1")), 403, 'dst-host=!*.ok.test excludes a.ok.test');
is(status(get("http://127.0.0.1:$op/neg/1")), 403, 'dst-host=!*.ok.test matches another host');
reached();

# --- disabled rule
is(status(get("http://127.0.0.1:$op/off/1")), 200, 'a disabled rule does not deny');
reached();

# --- src-address: the same request from 127.0.0.2 is denied
is(status(get("http://127.0.0.1:$op/src", host => '127.0.0.1')), 200, 'from 127.0.0.1: allowed');
{
	# viaduct listens on 127.0.0.1; a client bound to 127.0.0.2 reaches it
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port,
	    LocalAddr => '127.0.0.2', Proto => 'tcp', Timeout => 5);
	ok($s, 'connected from 127.0.0.2');
	print $s "GET http://127.0.0.1:$op/src HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n";
	local $/;
	my $resp = <$s>;
	is(status($resp), 403, 'src-address=127.0.0.2 denies that client');
}
reached();

# --- dst-address on a literal address (decided before any resolver)
is(status(get("http://127.0.0.1:$op/dst/1")), 403, 'dst-address=127.0.0.0/8 denies 127.0.0.1');
is(reached(), 0, 'not forwarded');

# --- the error log names the rule
my $log = $v->wait_log(qr/denied by \/ip proxy access rule 1 \(line \d+\)/);
ok($log, 'the error log names the deciding rule and its line');

ok(alive($v->pid), 'viaduct still running');

# --- the shipped conf/viaduct.conf's access list, on a test listener
{
	my $shipped = slurp(src_dir() . '/conf/viaduct.conf') // '';
	my ($acl) = $shipped =~ m{^(/ip proxy access\n(?:(?:add|    ).*\n)+)}m;
	ok($acl && $acl =~ /action=deny comment="everyone else"/, 'shipped access list found');
	my $s = start_viaduct(conf => Viaduct::Test::default_conf() . $acl);
	my $sget = sub { my $r = http_raw($s->port, $_[0]); status($r) };
	is($sget->("GET http://127.0.0.1:$op/x HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"),
	    200, 'shipped list: a loopback client is served');
	is($sget->("CONNECT 127.0.0.1:25 HTTP/1.1\r\nHost: 127.0.0.1:25\r\n\r\n"), 403,
	    'shipped list: CONNECT to port 25 is denied');
	isnt($sget->("CONNECT 127.0.0.1:443 HTTP/1.1\r\nHost: 127.0.0.1:443\r\n\r\n"), 403,
	    'shipped list: CONNECT to 443 passes the access list');
	$s->stop;

	# without its loopback rule the same client is "everyone else"
	(my $noloop = $acl) =~ s{^add src-address=127\.0\.0\.0/8 .*\n}{}m;
	isnt($noloop, $acl, 'loopback rule removed');
	$s = start_viaduct(conf => Viaduct::Test::default_conf() . $noloop);
	is(status(http_raw($s->port, "GET http://127.0.0.1:$op/x HTTP/1.1\r\nHost: 127.0.0.1\r\n" .
	    "Connection: close\r\n\r\n")), 403, 'shipped list: any other client is denied');
}

done_testing();
