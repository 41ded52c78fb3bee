#!/usr/bin/perl
# Transparent mode for real: two network namespaces made by this test, a
# veth pair between them, an nftables `redirect to :PORT` rule in the one
# where viaduct runs.  A client in the other namespace connects to the
# origin's address, port 80; the firewall hands the connection to viaduct,
# which must find the original destination (SO_ORIGINAL_DST) and reach it.
# Both families: IPv4 (10.231.x.x) and IPv6 (fd00:231::/48, unique local);
# these addresses exist only inside these namespaces.  A client that names
# another site in Host than the address it connected to cannot put what
# that address answered in the cache as the other site's object (cache
# poisoning by Host, Squid's CVE-2009-0801), nor invalidate the other
# site's objects through Location (RFC 9111 §4.4).  A 1.0 request without
# Host goes on with the destination as Host (a 1.1 request must have one).
# Through a parent proxy the target names what Host names (RFC 9112 §3.2).
# Needs root, iproute2 and nftables (a missing tool is a failure).
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use IO::Socket::IP;
use POSIX qw(:sys_wait_h);
use Test::More;
use Time::HiRes qw(sleep time);
use Viaduct::Test;
use Viaduct::Origin;

is($>, 0, 'running as root (network namespaces need it)') or BAIL_OUT('not root');
sub which { for my $d (split(/:/, $ENV{PATH} // ''), '/usr/sbin', '/sbin') { return "$d/$_[0]" if -x "$d/$_[0]" } undef }
my ($ip, $nft) = (which('ip'), which('nft'));
ok($ip, 'iproute2 installed') or BAIL_OUT('no ip');
ok($nft, 'nftables installed') or BAIL_OUT('no nft');

my $tag = "vd$$";
my ($nsc, $nsp) = ("$tag-c", "$tag-p");		# client side, proxy side
my ($vc, $vp) = ("${tag}c", "${tag}p");		# veth ends (<= 15 chars)
my ($vport, $vport2) = (3129, 3130);
my ($origin, $origin6, $genuine, $parent, $vpid, $vpid2);

sub sh { my $rc = system(@_); return $rc == 0 }
sub stop_pid {
	my ($p) = @_;
	return if !$$p;
	kill 'TERM', $$p;
	my $end = time + 15;
	while (time < $end) { last if waitpid($$p, WNOHANG) == $$p; sleep 0.05 }
	if (kill 0, $$p) { kill 'KILL', $$p; waitpid($$p, 0) }
	$$p = undef;
}
sub cleanup {
	stop_pid(\$vpid);
	stop_pid(\$vpid2);
	$origin->stop if $origin;
	$parent->stop if $parent;
	$origin6->stop if $origin6;
	$genuine->stop if $genuine;
	for my $ns ($nsc, $nsp) { system($ip, 'netns', 'del', $ns) if $ip && -e "/run/netns/$ns" }
}
END { local $?; cleanup() }
$SIG{INT} = $SIG{TERM} = sub { cleanup(); exit 1 };

ok(sh($ip, 'netns', 'add', $nsc) && sh($ip, 'netns', 'add', $nsp), 'namespaces created');
ok(sh($ip, 'link', 'add', $vc, 'type', 'veth', 'peer', 'name', $vp) &&
    sh($ip, 'link', 'set', $vc, 'netns', $nsc) && sh($ip, 'link', 'set', $vp, 'netns', $nsp), 'veth pair');
ok(sh($ip, '-n', $nsc, 'addr', 'add', '10.231.0.1/24', 'dev', $vc) &&
    sh($ip, '-n', $nsp, 'addr', 'add', '10.231.0.2/24', 'dev', $vp) &&
    sh($ip, '-n', $nsp, 'addr', 'add', '10.231.9.9/32', 'dev', 'lo') &&
    sh($ip, '-n', $nsp, 'addr', 'add', '10.231.9.10/32', 'dev', 'lo') &&
    sh($ip, '-n', $nsp, 'addr', 'add', '10.231.9.20/32', 'dev', 'lo') &&
    sh($ip, '-n', $nsc, 'link', 'set', 'lo', 'up') &&
    sh($ip, '-n', $nsc, 'link', 'set', $vc, 'up') && sh($ip, '-n', $nsp, 'link', 'set', $vp, 'up') &&
    sh($ip, '-n', $nsp, 'link', 'set', 'lo', 'up') &&
    sh($ip, '-n', $nsc, 'route', 'add', '10.231.9.0/24', 'via', '10.231.0.2'), 'addresses and routes');
# nodad: usable at once, not "tentative" for a second
ok(sh($ip, '-n', $nsc, '-6', 'addr', 'add', 'fd00:231::1/64', 'dev', $vc, 'nodad') &&
    sh($ip, '-n', $nsp, '-6', 'addr', 'add', 'fd00:231::2/64', 'dev', $vp, 'nodad') &&
    sh($ip, '-n', $nsp, '-6', 'addr', 'add', 'fd00:231:9::9/128', 'dev', 'lo', 'nodad') &&
    sh($ip, '-n', $nsc, '-6', 'route', 'add', 'fd00:231:9::/64', 'via', 'fd00:231::2'),
    'IPv6 addresses and routes');
# everything for port 80 arriving from outside goes to viaduct, for port
# 8080 to the second viaduct (the one with a parent proxy)
my $dir = tmpdir_keep();
spew("$dir/redirect.nft", join('', map { "table $_ viaduct_t {\n\tchain pre {\n" .
    "\t\ttype nat hook prerouting priority dstnat;\n\t\ttcp dport 80 redirect to :$vport\n" .
    "\t\ttcp dport 8080 redirect to :$vport2\n\t}\n}\n" } 'ip', 'ip6'));
ok(sh($ip, 'netns', 'exec', $nsp, $nft, '-f', "$dir/redirect.nft"), 'nftables redirect rule in the proxy namespace');

# the origin: 10.231.9.9:80, only in the proxy namespace
$origin = Viaduct::Origin->new(netns => $nsp, addr => '10.231.9.9', port => 80, handler => sub {
	my ($req) = @_;
	my ($t) = $req =~ m{^\S+ (\S+)};
	my $body = "origin 10.231.9.9 got $t\n";
	my $cc = $t =~ m{^/cc/} ? "Cache-Control: max-age=300\r\n" : '';
	# a POST that names another resource of "its" site as created there
	return "HTTP/1.1 201 Created\r\nLocation: /cc/index\r\nContent-Location: /cc/index\r\n" .
	    "Content-Length: " . length($body) . "\r\n\r\n$body" if $req =~ /^POST /;
	return "HTTP/1.1 200 OK\r\n${cc}Content-Length: " . length($body) . "\r\n\r\n$body";
});
# another site, 10.231.9.10:80: everything it answers may be cached
$genuine = Viaduct::Origin->new(netns => $nsp, addr => '10.231.9.10', port => 80, handler => sub {
	my ($req) = @_;
	my ($t) = $req =~ m{^\S+ (\S+)};
	my $body = "origin 10.231.9.10 got $t\n";
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nContent-Length: " . length($body) .
	    "\r\n\r\n$body";
});

# and [fd00:231:9::9]:80
$origin6 = Viaduct::Origin->new(netns => $nsp, addr => 'fd00:231:9::9', port => 80, handler => sub {
	my ($req) = @_;
	my ($t) = $req =~ m{^\S+ (\S+)};
	my $body = "origin fd00:231:9::9 got $t\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});

# a parent proxy at 10.231.9.20:3128 that answers every request itself
$parent = Viaduct::Origin->new(netns => $nsp, addr => '10.231.9.20', port => 3128, handler => sub {
	my $body = "from the parent\n";
	return "HTTP/1.1 200 OK\r\nContent-Length: " . length($body) . "\r\n\r\n$body";
});

# viaduct in the proxy namespace, and a second one with the parent
spew("$dir/viaduct2.conf", <<"CONF");
/ip proxy
set enabled=yes port=$vport2 cache-path=$dir/cache2 max-cache-size=none \\
    parent-proxy=10.231.9.20 parent-proxy-port=3128
/viaduct
set workers=1 listen-address=0.0.0.0 pid-file=$dir/viaduct2.pid run-dir=$dir/run2 \\
    error-log=$dir/error2.log access-log=$dir/access2.log log-level=info \\
    via-pseudonym=tp2.via transparent-ports=$vport2
CONF
spew("$dir/viaduct.conf", <<"CONF");
/ip proxy
set enabled=yes port=$vport cache-path=$dir/cache max-cache-size=unlimited
/viaduct
set workers=1 listen-address=0.0.0.0,:: pid-file=$dir/viaduct.pid run-dir=$dir/run \\
    error-log=$dir/error.log access-log=$dir/access.log log-level=info \\
    via-pseudonym=tp.via transparent-ports=$vport connect-timeout=3s
CONF
$vpid = fork // die;
if ($vpid == 0) {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>>', "$dir/stderr.log");
	open(STDERR, '>>', "$dir/stderr.log");
	exec($ip, 'netns', 'exec', $nsp, viaduct_bin(), '-F', '-f', "$dir/viaduct.conf") or POSIX::_exit(127);
}
$vpid2 = fork // die;
if ($vpid2 == 0) {
	open(STDIN, '<', '/dev/null');
	open(STDOUT, '>>', "$dir/stderr2.log");
	open(STDERR, '>>', "$dir/stderr2.log");
	exec($ip, 'netns', 'exec', $nsp, viaduct_bin(), '-F', '-f', "$dir/viaduct2.conf") or POSIX::_exit(127);
}

# Run code in a namespace (in a child), return what it prints.
sub in_ns {
	my ($ns, $code) = @_;
	pipe(my $r, my $w) or die;
	my $pid = fork // die;
	if ($pid == 0) {
		close $r;
		Viaduct::Origin::setns_net($ns);
		print $w $code->() // '';
		close $w;
		POSIX::_exit(0);
	}
	close $w;
	local $/;
	my $out = <$r>;
	waitpid($pid, 0);
	return $out;
}

sub request {
	my ($host, $port, $bytes) = @_;
	my $s = IO::Socket::IP->new(PeerHost => $host, PeerPort => $port, Proto => 'tcp', Timeout => 5)
	    or return "connect failed: $!";
	$s->autoflush(1);
	print $s $bytes;
	my $buf = '';
	my $rin = '';
	vec($rin, fileno($s), 1) = 1;
	while (select(my $x = $rin, undef, undef, 10)) {	# safety net
		sysread($s, $buf, 65536, length $buf) or last;
	}
	return $buf;
}

my $up = in_ns($nsp, sub { wait_port($vport, '127.0.0.1', 10) ? 'up' : 'down' });
is($up, 'up', 'viaduct listens in the proxy namespace') or diag(slurp("$dir/stderr.log") // '');
$up = in_ns($nsp, sub { wait_port($vport2, '127.0.0.1', 10) ? 'up' : 'down' });
is($up, 'up', 'the second viaduct listens') or diag(slurp("$dir/stderr2.log") // '');

# --- redirected: the Host field lies, the original destination decides
my $r = in_ns($nsc, sub { request('10.231.9.9', 80,
    "GET /through?x=1 HTTP/1.1\r\nHost: not-this-one.invalid\r\nConnection: close\r\n\r\n") });
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nVia: 1\.1 tp\.via\r\n\r\norigin 10\.231\.9\.9 got /through\?x=1\n\z}s,
    'client -> 10.231.9.9:80 redirected to viaduct, which reached the original destination');
my @log = $origin->log;
is(scalar @log, 1, 'the origin saw one request');
is($log[0][1], "GET /through?x=1 HTTP/1.1\r\nHost: not-this-one.invalid\r\nX-Forwarded-For: 10.231.0.1\r\n" .
    "Via: 1.1 tp.via\r\n\r\n", 'origin got the request through viaduct, target and Host unchanged');
unlike($log[0][0], qr/^10\.231\.0\.1:/, 'the origin connection came from viaduct, not from the client');

# --- a 1.0 client without Host: the original destination is enough
$r = in_ns($nsc, sub { request('10.231.9.9', 80, "GET /old HTTP/1.0\r\n\r\n") });
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\n\r\norigin 10\.231\.9\.9 got /old\n\z}s, '1.0 client without Host: served');
is(($origin->log)[-1][1], "GET /old HTTP/1.1\r\nHost: 10.231.9.9\r\nX-Forwarded-For: 10.231.0.1\r\n" .
    "Via: 1.0 tp.via\r\n\r\n", '... as HTTP/1.1 with the destination as Host (RFC 9112 §3.2)');

# --- IPv6: the same through the ip6 redirect (IP6T_SO_ORIGINAL_DST)
$r = in_ns($nsc, sub { request('fd00:231:9::9', 80,
    "GET /six HTTP/1.1\r\nHost: not-this-one.invalid\r\nConnection: close\r\n\r\n") });
like($r, qr{\AHTTP/1\.1 200 OK\r\n.*\r\nVia: 1\.1 tp\.via\r\n\r\norigin fd00:231:9::9 got /six\n\z}s,
    'IPv6: client -> [fd00:231:9::9]:80 redirected to viaduct, which reached the original destination');
my @log6 = $origin6->log;
is(scalar @log6, 1, 'IPv6: the origin saw one request');
is($log6[0][1] // '', "GET /six HTTP/1.1\r\nHost: not-this-one.invalid\r\nX-Forwarded-For: fd00:231::1\r\n" .
    "Via: 1.1 tp.via\r\n\r\n", 'IPv6: target and Host unchanged, the client address in X-Forwarded-For');
is(scalar($origin->log), 2, 'IPv6: nothing went to the IPv4 origin');

# --- cache poisoning by Host: the client connects to 10.231.9.9 and says
# Host: 10.231.9.10; what .9 answers must not become .10's object
my $get = sub { my ($to, $host) = @_;
	in_ns($nsc, sub { request($to, 80, "GET /cc/index HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n") }) };
$r = $get->('10.231.9.9', '10.231.9.10');
like($r, qr{\r\n\r\norigin 10\.231\.9\.9 got /cc/index\n\z}, 'Host naming another site: the destination answers');
$r = $get->('10.231.9.10', '10.231.9.10');
like($r, qr{\r\n\r\norigin 10\.231\.9\.10 got /cc/index\n\z},
    'the site itself, asked next: its own answer, not the one fetched from the other address');
is(scalar($genuine->log), 1, '... which came from it');
$r = $get->('10.231.9.10', '10.231.9.10');
like($r, qr{\r\nAge: \d+\r\n.*\r\n\r\norigin 10\.231\.9\.10 got /cc/index\n\z}s,
    'Host equal to the destination: cached as the URL\'s object, a hit');
is(scalar($genuine->log), 1, '... the site asked once');
my $n9 = scalar($origin->log);
$r = $get->('10.231.9.9', '10.231.9.10');
like($r, qr{\r\n\r\norigin 10\.231\.9\.9 got /cc/index\n\z}, 'the lying client again: still its destination\'s answer');
is(scalar($origin->log), $n9, '... from the cache, under the destination\'s own key');

# --- invalidation by Location (RFC 9111 §4.4): the lying client's POST to
# 10.231.9.9, answered 201 with Location: /cc/index, must not void the
# object of 10.231.9.10 (another origin than the one that answered)
$r = in_ns($nsc, sub { request('10.231.9.9', 80, "POST /make HTTP/1.1\r\nHost: 10.231.9.10\r\n" .
    "Content-Length: 2\r\nConnection: close\r\n\r\nhi") });
like($r, qr{\AHTTP/1\.1 201 }, 'a POST to the destination, naming the other site: 201 with Location');
$r = $get->('10.231.9.10', '10.231.9.10');
like($r, qr{\r\nAge: \d+\r\n.*\r\n\r\norigin 10\.231\.9\.10 got /cc/index\n\z}s,
    'the other site\'s object is still a hit');
is(scalar($genuine->log), 1, '... it was not invalidated by the other address\'s answer');
$n9 = scalar($origin->log);
$r = $get->('10.231.9.9', '10.231.9.10');
like($r, qr{\r\n\r\norigin 10\.231\.9\.9 got /cc/index\n\z}, 'the destination\'s own copy ...');
is(scalar($origin->log), $n9 + 1, '... was invalidated by its own answer: fetched again');

# --- through a parent proxy: the target and Host name the same authority
$r = in_ns($nsc, sub { request('10.231.9.9', 8080,
    "GET /page?x=1 HTTP/1.1\r\nHost: www.example.com\r\nConnection: close\r\n\r\n") });
like($r, qr{\r\n\r\nfrom the parent\n\z}, 'redirected to the second viaduct, answered by its parent');
my @plog = $parent->log;
is($plog[-1][1] // '', "GET http://www.example.com/page?x=1 HTTP/1.1\r\nHost: www.example.com\r\n" .
    "X-Forwarded-For: 10.231.0.1\r\nVia: 1.1 tp2.via\r\n\r\n",
    'the parent got the site Host names as the target, Host the same');
$r = in_ns($nsc, sub { request('10.231.9.9', 8080, "GET /old HTTP/1.0\r\n\r\n") });
like($r, qr{\r\n\r\nfrom the parent\n\z}, '1.0 client without Host, through the parent');
@plog = $parent->log;
is($plog[-1][1] // '', "GET http://10.231.9.9:8080/old HTTP/1.1\r\nHost: 10.231.9.9:8080\r\n" .
    "X-Forwarded-For: 10.231.0.1\r\nVia: 1.0 tp2.via\r\n\r\n",
    '... the destination as target and as Host');

# --- the access log has the request (viaduct served it)
my $errlog = (slurp("$dir/error.log") // '') . (slurp("$dir/error2.log") // '');
unlike($errlog, qr/\[(?:error|crit)\]/, 'no errors logged');

cleanup();
ok(!-e "/run/netns/$nsc" && !-e "/run/netns/$nsp", 'namespaces removed');

done_testing();
