#!/usr/bin/perl
# dst-address rules on a named host hold for every address the request may
# reach: an access deny is not passed by a pooled connection (the name is
# resolved anyway) nor by a first address that refuses (the second is
# checked too), and a direct-list deny holds for the second address of a
# fallback as for the first.  The name is resolved for the access list
# before the request goes on, so the rules after a dst-address rule also
# hold for a cache hit and for a request through a parent, and the deciding
# rule counts once per request.  A parent on the admin listener's port is a
# parent that fails, not one picked again for ever (the worker span at 100%
# CPU), and a parent that closes a kept-alive connection under a POST is
# not marked down for it.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Viaduct::Test;
use Viaduct::Origin;
use Viaduct::DNS;

my $o = Viaduct::Origin->new(addr => '127.0.0.2', handler => sub {
	my ($q) = @_;
	my ($t) = $q =~ /^\S+ (\S+)/;
	my $b = "origin served $t\n";
	my $cc = $t =~ m{/cache-} ? "Cache-Control: max-age=300\r\n" : '';
	return "HTTP/1.1 200 OK\r\n${cc}Content-Length: " . length($b) . "\r\n\r\n$b";
});
my $op = $o->port;
my $refused = free_port();	# nobody listens on 127.0.0.3:$op either
my $dns = Viaduct::DNS->new(records => { 'one.test' => { A => ['127.0.0.2'] },
    'two.test' => { A => ['127.0.0.3', '127.0.0.2'] } });

sub conf {
	my ($viaduct, $rest) = @_;
	return Viaduct::Test::default_conf() =~ s/workers=2/workers=1/r .
	    "set dns-servers=127.0.0.1:" . $dns->port . " $viaduct\n" . ($rest // '');
}
sub get_from {
	my ($src, $v, $url) = @_;
	my ($h) = $url =~ m{//([^/]+)};
	my $s = IO::Socket::INET->new(LocalAddr => $src, PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    Timeout => 5) or die "connect: $!";
	print $s "GET $url HTTP/1.1\r\nHost: $h\r\nConnection: close\r\n\r\n";
	local $/;
	my $r = <$s> // '';
	return $r =~ m{^HTTP/1\.1 (\d{3})} ? $1 : 'none';
}
sub served { scalar $o->requests }

# --- access: a pooled connection does not skip the address check ---------------------
{
	my $v = start_viaduct(conf => conf('', "/ip proxy access\n" .
	    "add src-address=127.0.0.5 dst-address=127.0.0.2 action=deny\n"));
	is(get_from('127.0.0.1', $v, "http://one.test:$op/a"), 200, 'an allowed client fetches one.test');
	is(get_from('127.0.0.5', $v, "http://one.test:$op/b"), 403,
	    'the denied client: 403, though a pooled connection to the name is idle');
	is(served(), 1, '... and the origin saw only the allowed request');
	is($v->stop, 0, 'stops cleanly');
}

# --- access: the second address of a name is checked too --------------------------------
{
	my $v = start_viaduct(conf => conf('', "/ip proxy access\nadd dst-address=127.0.0.2 action=deny\n"));
	is(get_from('127.0.0.1', $v, "http://two.test:$op/c"), 403,
	    'two.test [127.0.0.3 refused, 127.0.0.2 denied]: 403, not a fetch from the second');
	is(served(), 1, '... the origin saw nothing');
	is($v->stop, 0, 'stops cleanly');
}

# --- direct: a deny of the second address holds in the fallback ---------------------------
{
	my $dead = free_port();
	my $v = start_viaduct(conf => conf('', "/ip proxy\nset parent-proxy=127.0.0.1 parent-proxy-port=$dead\n" .
	    "/ip proxy direct\nadd dst-address=127.0.0.2 action=deny\n"));
	is(get_from('127.0.0.1', $v, "http://two.test:$op/d"), 502,
	    'parent dead, two.test [127.0.0.3 refused, 127.0.0.2 direct-denied]: 502');
	is(served(), 1, '... never the origin');
	is($v->stop, 0, 'stops cleanly');
}

# --- the rules after a dst-address rule hold for a cache hit too ------------------------
{
	my $v = start_viaduct(conf => conf('', "/ip proxy\nset max-cache-size=unlimited\n" .
	    "/ip proxy access\nadd dst-address=10.0.0.0/8 action=deny\n" .
	    "add src-address=127.0.0.5 dst-host=one.test action=deny\n"));
	is(get_from('127.0.0.1', $v, "http://one.test:$op/cache-h"), 200, 'an allowed client fetches, stored');
	my $before = served();
	is(get_from('127.0.0.1', $v, "http://one.test:$op/cache-h"), 200, '... and gets it again');
	is(served(), $before, '... from the cache');
	is(get_from('127.0.0.5', $v, "http://one.test:$op/cache-h"), 403,
	    'a client a later rule denies: 403, not the cached object');
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'rules', '--json']);
	like($out, qr/"hits":\s*1\b(?!.*"hits":\s*[1-9])/s, 'the deny rule counted once, the address rule never')
	    or diag($out);
	is($v->stop, 0, 'stops cleanly');
}

# --- ... and for a request through a parent ---------------------------------------------
{
	my $v = start_viaduct(conf => conf('', "/ip proxy\nset parent-proxy=127.0.0.2 parent-proxy-port=$op\n" .
	    "/ip proxy access\nadd dst-address=10.0.0.0/8 action=deny\n" .
	    "add dst-host=blocked.test action=deny\n" .
	    "add dst-address=127.0.0.2 path=/deny-me action=deny\n"));
	my $before = served();
	is(get_from('127.0.0.1', $v, "http://blocked.test/p"), 403,
	    'through a parent: a dst-host deny after a dst-address rule still denies');
	is(get_from('127.0.0.1', $v, "http://one.test:$op/deny-me"), 403,
	    '... and a dst-address deny of the name\'s address holds before the parent');
	is(get_from('127.0.0.1', $v, "http://one.test:$op/ok"), 200, 'an allowed name goes through the parent');
	is(served(), $before + 1, '... the parent saw only that one');
	like(($o->requests)[-1], qr{^GET http://one\.test:$op/ok HTTP/1\.1\r\n}, '... in absolute-form');
	is($v->stop, 0, 'stops cleanly');
}

# --- a rule decides once per request, however many addresses are tried ------------------
{
	my $v = start_viaduct(conf => conf('', "/ip proxy access\n" .
	    "add dst-address=127.0.0.0/8 path=/two* action=allow\nadd action=deny\n"));
	is(get_from('127.0.0.1', $v, "http://two.test:$op/two-x"), 200,
	    'two.test [127.0.0.3 refused, 127.0.0.2]: allowed, served by the second');
	my ($st, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'rules', '--json']);
	like($out, qr/"hits":\s*1\b/, 'the allow rule counted once') or diag($out);
	unlike($out, qr/"hits":\s*2\b/, '... not once per address');
	is($v->stop, 0, 'stops cleanly');
}

# --- a parent on the admin port: failed over, no busy loop -------------------------------
{
	my $ap = free_port();
	my $v = start_viaduct(conf => conf("admin-port=$ap parents=127.0.0.1:$ap"));
	is(get_from('127.0.0.1', $v, "http://127.0.0.2:$op/e"), 200,
	    'a parent on the admin port is skipped, the origin answers');
	my ($w) = grep { (slurp("/proc/$_/comm") // '') =~ /^viaduct\n/ } $v->children;
	my $t0 = (split ' ', slurp("/proc/$w/stat") // '')[13] // 0;
	select(undef, undef, undef, 1);
	my $t1 = (split ' ', slurp("/proc/$w/stat") // '')[13] // 0;
	cmp_ok($t1 - $t0, '<', 50, 'the worker is idle afterwards (no re-plan loop)');
	is($v->stop, 0, 'stops cleanly');
}

done_testing();
