#!/usr/bin/perl
# The access log on a full disk: a write cut short leaves half a line, and
# the next line written once there is room (by whichever worker) must start
# on a line of its own, not be glued onto that half.  The disk is a 64 KiB
# tmpfs mounted in a private mount namespace around viaduct (unshare -m), so
# the test needs root; the file is read through /proc/PID/root.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

if ($> != 0) {
	fail('the disk-full test runs as root (mount namespace, tmpfs)');
	done_testing();
	exit 1;
}

my $origin = Viaduct::Origin->new;
my $op = $origin->port;
my $line_re = qr{^\d+\.\d{3} [ \d]{5}\d 127\.0\.0\.1 [A-Z_]+/\d{3} \d+ GET \S+ - \S+/\S+ \S+$};

sub get { my ($v, $path) = @_; http_get($v->port, "http://127.0.0.1:$op/$path") }

my $v = start_viaduct(tmpfs => ['full', '64k'],
    conf => default_conf() =~ s{access-log=\S+}{access-log=\@DIR\@/full/access.log}r);
my $full = "/proc/" . $v->pid . "/root" . $v->dir . "/full";
my $log = "$full/access.log";
my $nlines = sub { scalar(() = (slurp($log) // '') =~ /\n/g) };

get($v, "before-$_") for 1 .. 4;
wait_until(sub { $nlines->() == 4 });

# fill the disk: what is left is the rest of the log's last page
open(my $fh, '>', "$full/filler") or die "filler: $!";
1 while syswrite($fh, 'f' x 4096);
close $fh;

# more than a page of lines: the writes fail, one of them half-way
get($v, "during-$_-" . ('x' x 40)) for 1 .. 40;
$v->wait_log(qr/access log \S+: (?:write failed|short write)/);
wait_until(sub { my $e = slurp($v->errlog) // '';
    (() = $e =~ /access log \S+: (?:write failed|short write)/g) >= 2 }, 3);
my $torn = (slurp($log) // '') !~ /\n\z/;
note($torn ? 'the log ends inside a line' : 'the disk filled at a line boundary');

unlink "$full/filler" or die "unlink: $!";
get($v, "after-$_") for 1 .. 6;
wait_until(sub { (slurp($log) // '') =~ m{/after-6 } && (slurp($log) // '') =~ m{/after-1 } });
my @lines = split /\n/, slurp($log) // '';
is(scalar(grep { m{/after-\d } && $_ !~ $line_re } @lines), 0,
    'after the disk has room again, every line is whole (none glued onto a torn one)');
is(scalar(grep { (() = /\d+\.\d{3} +\d+ 127\.0\.0\.1 /g) > 1 } @lines), 0,
    'no line holds parts of two');
$v->stop;

done_testing();
