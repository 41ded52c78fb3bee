#!/usr/bin/perl
# The error log quotes what clients send (a bad request-target at info
# level); control bytes in it are written as \xNN, so that a client can
# neither drive the terminal of an operator reading the log (ESC) nor forge
# a line of its own (CR, LF) that looks like the master's.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;

my $v = start_viaduct();
my $forged = "\x1b[2K\r2026-12-03T00:00:00.000Z\t[notice]\tmaster\tfake\x7f";
http_raw($v->port, "GET http://127.0.0.1:1/x$forged HTTP/1.1\r\nHost: a\r\n\r\n");
my $log = $v->wait_log(qr/request-target/) // '';
$v->stop;
my ($line) = grep { /request-target/ } split /\n/, $log;
$line //= '';
unlike($log, qr/[\x00-\x09\x0b-\x1f\x7f]/, 'no control byte but the newlines in the error log');
like($line, qr{: http://127\.0\.0\.1:1/x\\x1b\[2K\\x0d2026-12-03T00:00:00\.000Z\\x09\[notice\]\\x09master\\x09fake\\x7f$},
    'the request-target is quoted with its control bytes as \xNN, on its own line');

done_testing();
