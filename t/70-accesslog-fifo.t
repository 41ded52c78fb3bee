#!/usr/bin/perl
# access-log on a FIFO (a log collector reading a named pipe): only a write
# of at most PIPE_BUF bytes to a pipe is atomic, so the workers must write
# whole lines in such pieces; with bigger writes a slow reader fills the
# pipe and two workers' lines interleave mid-line.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Fcntl;
use IO::Socket::INET;
use POSIX qw(mkfifo);
use Test::More;
use Time::HiRes qw(sleep);
use Viaduct::Test;
use Viaduct::Origin;

my $origin = Viaduct::Origin->new;
my $op = $origin->port;
my $dir = tmpdir_keep();
mkfifo("$dir/fifo", 0600) or die "mkfifo: $!";

# The collector: reads 4 KiB at a time, slowly, into a file.  Read-write,
# so that it is there before viaduct opens the FIFO and sees no end.
my $reader = fork // die "fork: $!";
if ($reader == 0) {
	sysopen(my $in, "$dir/fifo", O_RDWR) or POSIX::_exit(1);
	open(my $out, '>', "$dir/out") or POSIX::_exit(1);
	$out->autoflush(1);
	while (sysread($in, my $b, 4096)) {
		print $out $b;
		sleep 0.005;
	}
	POSIX::_exit(0);
}

(my $conf = default_conf()) =~ s{access-log=\S+}{access-log=\@DIR\@/fifo};
my $v = start_viaduct(conf => $conf, dir => $dir);

# Keep-alive clients, enough to keep both workers busy, with URLs long
# enough that a worker's 64 KiB buffer fills in about 30 lines.
my ($nclients, $each, $ulen) = (6, 150, 2000);
my @pids;
for my $k (1 .. $nclients) {
	my $pid = fork // die "fork: $!";
	if ($pid == 0) {
		my $s = IO::Socket::INET->new(PeerAddr => '127.0.0.1', PeerPort => $v->port,
		    Proto => 'tcp', Timeout => 10) or POSIX::_exit(1);
		my $buf = '';
		for my $i (1 .. $each) {
			my $url = "http://127.0.0.1:$op/c$k-$i-" . ('u' x $ulen);
			print $s "GET $url HTTP/1.1\r\nHost: 127.0.0.1:$op\r\n\r\n";
			while (1) {
				my $h = index($buf, "\r\n\r\n");
				my ($cl) = $h < 0 ? () : substr($buf, 0, $h) =~ /Content-Length: (\d+)/i;
				if ($h >= 0 && length($buf) >= $h + 4 + ($cl // 0)) {
					substr($buf, 0, $h + 4 + ($cl // 0)) = '';
					last;
				}
				sysread($s, $buf, 65536, length $buf) or POSIX::_exit(2);
			}
		}
		POSIX::_exit(0);
	}
	push @pids, $pid;
}
waitpid($_, 0) for @pids;
my $n = $nclients * $each;
$v->stop;	# the workers flush what they have
wait_until(sub { (() = (slurp("$dir/out") // '') =~ /\n/g) >= $n });
my @lines = split /\n/, slurp("$dir/out") // '';
kill 'TERM', $reader;
waitpid($reader, 0);

my $line_re = qr{^\d+\.\d{3} [ \d]{5}\d 127\.0\.0\.1 TCP_MISS/200 \d+ GET http://127\.0\.0\.1:$op/c\d+-\d+-u{$ulen} - HIER_DIRECT/127\.0\.0\.1 text/plain$};
is(scalar(grep { $_ !~ $line_re } @lines), 0,
    "every line the FIFO's reader got is whole (of " . scalar(@lines) . ")");

done_testing();
