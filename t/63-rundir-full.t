#!/usr/bin/perl
# The run directory on a full tmpfs (a small /run, filled by the RAM cache
# or by anyone): the shared segments there are sparse, and a page first
# touched on a full tmpfs is a SIGBUS.  The pages each process writes are
# backed before it runs, so a full run-dir is a message and a later try,
# never a dead master or worker.  The tmpfs is mounted in a private mount
# namespace around viaduct (unshare -m), so the test needs root.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use IO::Socket::INET;
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

if ($> != 0) {
	fail('the run-dir-full test runs as root (mount namespace, tmpfs)');
	done_testing();
	exit 1;
}

my $origin = Viaduct::Origin->new;
my $op = $origin->port;

my $v = start_viaduct(tmpfs => ['run', '8m']);
my ($pid, $port, $dir) = ($v->pid, $v->port, $v->dir);
my $run = "/proc/$pid/root$dir/run";

sub get { my ($path) = @_; http_get($port, "http://127.0.0.1:$op/$path") }
like(get('before'), qr{^HTTP/1\.1 200 }, 'served');

# fill the tmpfs
open(my $fh, '>', "$run/filler") or die "filler: $!";
1 while syswrite($fh, 'f' x 65536);
close $fh;

# many connections at once: each worker writes records further into its
# connection table than it did so far
my @idle = map { IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $port) // () } 1 .. 80;
like(get('during'), qr{^HTTP/1\.1 200 }, 'with 80 idle connections on a full run-dir: served');
close $_ for @idle;

# a reload: the new workers' statistics slots cannot be backed now
my @before = $v->children;
kill 'HUP', $pid;
ok($v->wait_log(qr/cannot back the statistics of a new process \(run-dir full\?\)/),
    'a reload on a full run-dir: the error log says why the new workers wait');
ok(kill(0, $pid), 'the master is alive');
like(get('reload'), qr{^HTTP/1\.1 200 }, 'still served');
is(scalar(grep { !kill 0, $_ } @before), 0, 'no worker died');

# room again: the new generation starts
unlink "$run/filler" or die "unlink: $!";
ok(wait_until(sub { (slurp($v->errlog) // '') =~ /worker 0 serving .*\n(?s:.*)worker 0 serving/ }, 30),
    'once there is room, the new generation starts');
like(get('after'), qr{^HTTP/1\.1 200 }, 'served after');
unlike(slurp("$dir/stderr.log") // '', qr/Bus error/, 'no SIGBUS anywhere');
is($v->stop, 0, 'stops cleanly');
done_testing();
