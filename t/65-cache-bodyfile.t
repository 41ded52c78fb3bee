#!/usr/bin/perl
# A body file that no longer matches its index record (truncated, or grown,
# by hand or by a file system that lost its tail) is not sent: the hit is a
# miss, fetched again and stored again.  It was sent short under the
# stored Content-Length on every hit (RFC 9112 §6.3), with no word logged.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use File::Find;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $body = join('', map { sprintf("%07d\n", $_) } 1 .. 37500);	# 300,000 bytes
my $o = Viaduct::Origin->new(handler => sub {
	return "HTTP/1.1 200 OK\r\nCache-Control: max-age=3600\r\nContent-Length: " .
	    length($body) . "\r\n\r\n$body";
});
my $url = 'http://127.0.0.1:' . $o->port . '/big';
my $v = start_viaduct(conf => default_conf() =~
    s{cache-path=\@DIR\@/cache}{cache-path=\@DIR\@/cache cache-on-disk=yes max-cache-size=100MiB}r);

sub fetch { my $r = http_get($v->port, $url) // ''; $r =~ /\r\n\r\n(.*)\z/s ? $1 : '' }
sub fetched { scalar grep { m{^GET /big } } $o->requests }

is(fetch(), $body, 'a miss: the whole body');
is(fetch(), $body, 'a hit: the whole body');
is(fetched(), 1, 'stored (one fetch)');
my @files;
find(sub { push @files, $File::Find::name if -f && $File::Find::dir !~ m{/tmp$} &&
    $File::Find::name =~ m{/bodies/} && -s _ == length($body) }, $v->dir . '/cache');
is(scalar @files, 1, 'one body file of the object');
truncate($files[0], 100000) or die "truncate: $!";
is(fetch(), $body, 'the body file cut short: the whole body anyway');
is(fetched(), 2, '... fetched again');
ok($v->wait_log(qr/body file \S+ has 100000 bytes, its object 300000: not used/),
    '... and the error log says why');
is(fetch(), $body, 'then a hit again');
is(fetched(), 2, '... of the object stored again');
is($v->stop, 0, 'stops cleanly');
done_testing();
