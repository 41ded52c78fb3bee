#!/usr/bin/perl
# A reverse port's objects are its configured origin's (issue 6, RFC 9111
# §7.1): a reverse port routes by Host's name to reverse-origins, so what
# it stores under http://HOST:PORT/... is not the answer of the server that
# URL names.  A proxy client asking for that URL must get its own server's
# answer, and the reverse port's clients must never get what a proxy
# client fetched from elsewhere (nor a lifetime from Surrogate-Control,
# which only reverse ports honour).  A purge by URL (PURGE, viaductctl)
# still reaches the reverse port's object.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

sub mk {
	my ($tag) = @_;
	my $n = 0;
	return Viaduct::Origin->new(handler => sub {
		my ($req) = @_;
		my ($t) = $req =~ m{^\S+ (\S+)};
		my $body = "$tag $t\n";
		my $cc = $t =~ m{^/sc/} ? "Cache-Control: max-age=0\r\nSurrogate-Control: max-age=3600\r\n" :
		    "Cache-Control: max-age=300\r\n";
		$cc .= "Vary: Accept-Encoding\r\n" if $t =~ m{^/v/};
		return "HTTP/1.1 200 OK\r\n${cc}Content-Length: " . length($body) . "\r\n\r\n$body";
	});
}
my ($o1, $o2) = (mk('O1'), mk('O2'));
my ($p1, $p2) = ($o1->port, $o2->port);
my ($rp, $ap) = (free_port(), free_port());
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r .
    "set listen=127.0.0.1:$rp reverse-ports=$rp reverse-origins=localhost=127.0.0.1:$p1 \\\n" .
    "    admin-port=$ap\n");
my $fp = $v->port;
ok(wait_port($rp) && wait_port($ap), 'reverse and admin listeners up');

sub req {
	my ($port, $line, $host, $m) = @_;
	my $r = http_raw($port, ($m // 'GET') . " $line HTTP/1.1\r\nHost: $host\r\nConnection: close\r\n\r\n")
	    // '';
	return $r =~ /\r\n\r\n(.*)\z/s ? $1 : $r;
}
sub hits { scalar($_[0]->requests) }

# --- the reverse port stores O1's answer; the URL names O2 -----------------------------------
is(req($rp, '/x', "localhost:$p2"), "O1 /x\n", 'reverse port: Host localhost:P2 is routed to O1');
is(req($fp, "http://localhost:$p2/x", "localhost:$p2"), "O2 /x\n",
    'proxy port: http://localhost:P2/x is O2\'s answer, not the reverse port\'s object');
is(hits($o2), 1, '... fetched from O2');
is(req($fp, "http://localhost:$p2/x", "localhost:$p2"), "O2 /x\n", 'proxy port again: O2\'s, now a hit');
is(hits($o2), 1, '... from the cache');
is(req($rp, '/x', "localhost:$p2"), "O1 /x\n", 'reverse port again: still O1\'s object');
is(hits($o1), 1, '... from the cache');

# --- and the other way: a proxy client's fetch is not the reverse port's ---------------------
is(req($fp, "http://localhost:$p2/y", "localhost:$p2"), "O2 /y\n", 'proxy port fetches O2\'s /y');
is(req($rp, '/y', "localhost:$p2"), "O1 /y\n", 'reverse port: /y is O1\'s');
is(hits($o1), 2, '... fetched from O1');

# --- Surrogate-Control's lifetime stays on the reverse port ---------------------------------
is(req($rp, '/sc/z', "localhost:$p1"), "O1 /sc/z\n", 'reverse port stores /sc/z for an hour');
is(req($rp, '/sc/z', "localhost:$p1"), "O1 /sc/z\n", 'reverse port: a hit');
is(hits($o1), 3, '... O1 asked once');
is(req($fp, "http://localhost:$p1/sc/z", "localhost:$p1"), "O1 /sc/z\n",
    'proxy port, the same URL: max-age=0 is stale for it');
is(hits($o1), 4, '... so it asked the origin');

# --- with Vary: a variant is its marker's, so neither overwrites the other's ------------------
my $gz = "Accept-Encoding: gzip\r\n";
sub reqh {
	my ($port, $line, $host, $h) = @_;
	my $r = http_raw($port, "GET $line HTTP/1.1\r\nHost: $host\r\n${h}Connection: close\r\n\r\n") // '';
	return $r =~ /\r\n\r\n(.*)\z/s ? $1 : $r;
}
is(reqh($fp, "http://localhost:$p2/v/1", "localhost:$p2", $gz), "O2 /v/1\n", 'proxy port: O2\'s gzip variant stored');
is(reqh($rp, '/v/1', "localhost:$p2", $gz), "O1 /v/1\n", 'reverse port: O1\'s gzip variant stored');
is(reqh($fp, "http://localhost:$p2/v/1", "localhost:$p2", $gz), "O2 /v/1\n",
    'proxy port again: still O2\'s variant (the reverse port\'s did not replace it)');
is(reqh($rp, '/v/1', "localhost:$p2", $gz), "O1 /v/1\n", 'reverse port again: O1\'s');
is(hits($o2), 3, 'O2 asked once for /v/1');
is(hits($o1), 5, 'O1 asked once for /v/1');

# --- purge by URL reaches the reverse port's object -------------------------------------------
is(req($ap, "http://localhost:$p2/x", "127.0.0.1", 'PURGE'), "purged\n", 'PURGE of the URL');
is(req($rp, '/x', "localhost:$p2"), "O1 /x\n", 'reverse port: /x fetched again');
is(hits($o1), 6, '... its object was purged');
is(req($fp, "http://localhost:$p2/x", "localhost:$p2"), "O2 /x\n", 'proxy port: /x fetched again');
is(hits($o2), 4, '... its object was purged too');
my ($rc, $out) = run_cmd([viaductctl_bin(), '-f', $v->{conf}, 'purge', "http://localhost:$p2/y"]);
is($rc, 0, 'viaductctl purge of /y');
like($out, qr/^2 objects purged$/m, 'viaductctl purge: both objects of the URL');
is(req($rp, '/y', "localhost:$p2"), "O1 /y\n", 'reverse port: /y fetched again');
is(hits($o1), 7, '... it was purged');

is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
