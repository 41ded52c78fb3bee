#!/usr/bin/perl
# A variant is keyed by the request fields its Vary names as the origin saw
# them (RFC 9111 §4.1).  A field the client named in Connection never
# reaches the origin, and X-Forwarded-For is ours, not the client's: a
# response that varies on such a field is not stored.  Before, a client
# sending "Accept-Language: fr" with "Connection: accept-language" stored
# the origin's default page as the French variant for everyone, and
# "Vary: X-Forwarded-For" answers went to other clients.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use IO::Socket::INET;
use Viaduct::Test;
use Viaduct::Origin;

my $o = Viaduct::Origin->new(handler => sub {
	my ($req) = @_;
	my ($p) = $req =~ m{^\S+ (\S+)};
	if ($p =~ m{^/lang}) {
		my $fr = $req =~ /^Accept-Language: fr\r$/mi;
		my $b = $fr ? 'bonjour' : 'hello';
		return "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nVary: Accept-Language\r\n" .
		    "Content-Length: " . length($b) . "\r\n\r\n$b";
	}
	my ($xff) = $req =~ /^X-Forwarded-For: ([^\r]*)\r$/mi;
	my $b = 'for: ' . ($xff // '-');
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=300\r\nVary: X-Forwarded-For\r\n" .
	    "Content-Length: " . length($b) . "\r\n\r\n$b";
});
my $base = 'http://127.0.0.1:' . $o->port;
my $v = start_viaduct(conf => Viaduct::Test::default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache max-cache-size=unlimited}r);

# a request from a given client address (127.0.0.x), read to the close
sub get {
	my ($path, $h, $from) = @_;
	my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
	    LocalAddr => $from // '127.0.0.1', Timeout => 5) or die "connect: $!";
	$s->autoflush(1);
	print $s "GET $base$path HTTP/1.1\r\nHost: x\r\n$h" . "Connection: close\r\n\r\n";
	my $r = '';
	while (sysread($s, $r, 65536, length $r)) { }
	my ($head, $body) = split /\r\n\r\n/, $r, 2;
	return ($body // '', ($head // '') =~ /\r\nAge: /);
}
sub n { my ($p) = @_; scalar grep { m{^GET \Q$p\E } } $o->requests }

# --- a field named in Connection: the origin saw it absent ----------------------------
my ($b, $hit) = get('/lang1', "Accept-Language: fr\r\nConnection: accept-language\r\n");
is($b, 'hello', 'the origin answered without the hidden field: its default page');
($b, $hit) = get('/lang1', "Accept-Language: fr\r\n");
is($b, 'bonjour', 'a French client gets the French page, not the default stored under "fr"');
ok(!$hit, '... from the origin');
($b, $hit) = get('/lang1', "Accept-Language: fr\r\n");
ok($hit && $b eq 'bonjour', 'and then from the cache');
is(n('/lang1'), 2, 'two origin requests');

# --- Vary: X-Forwarded-For is ours: never stored ----------------------------------------
($b) = get('/xff', '', '127.0.0.1');
is($b, 'for: 127.0.0.1', 'client 127.0.0.1: its own answer');
($b, $hit) = get('/xff', '', '127.0.0.2');
is($b, 'for: 127.0.0.2', 'client 127.0.0.2: its own answer, not the first client\'s');
ok(!$hit, '... not from the cache');
is(n('/xff'), 2, 'the origin asked for each');
is($v->stop, 0, 'viaduct stops cleanly');
done_testing();
