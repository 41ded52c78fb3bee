#!/usr/bin/perl
# Rule-list errors are configuration errors: `viaduct -t` exits 1 and names
# FILE:LINE:COL of the offending value, with PCRE2's own message and offset
# for a regex; a daemon given such a file does not start; and `kill -HUP`
# with a broken rule keeps the running rules.
use strict;
use warnings;
use FindBin;
use lib "$FindBin::Bin/lib";
use Test::More;
use Viaduct::Test;
use Viaduct::Origin;

my $dir = tmpdir_keep();

sub check {
	my ($text) = @_;
	my $f = "$dir/t.conf";
	spew($f, $text);
	my ($st, $out, $err) = run_cmd([ viaduct_bin(), '-t', '-f', $f ], timeout => 20);
	return ($st >> 8, $err, $f);
}

my @cases = (
	[ "/ip proxy access\nadd dst-host=:www\\.(bad action=deny\n",
	  qr/:2:15: missing closing parenthesis at offset 9$/, 'bad dst-host regex' ],
	[ "/ip proxy cache\nadd action=deny \\\n    path=!:a[\n",
	  qr/:3:12: missing terminating \] for character class at offset 2$/,
	  'bad negated path regex on a continuation line' ],
	[ "/ip proxy access\nadd src-address=192.168.1.0/40 action=deny\n",
	  qr/:2:17: invalid address "192\.168\.1\.0\/40" for src-address \(expected ADDRESS, ADDRESS-ADDRESS or ADDRESS\/PREFIX\)$/,
	  'bad address' ],
	[ "/ip proxy direct\nadd dst-port=8090-8080 action=allow\n",
	  qr/:2:14: invalid port range "8090-8080" for dst-port/, 'bad port range' ],
	[ "/ip proxy access\nadd method=\"g t\"\n",
	  qr/:2:12: invalid method "g t"/, 'bad method' ],
);
for my $c (@cases) {
	my ($rc, $err, $f) = check($c->[0]);
	is($rc, 1, "$c->[2]: viaduct -t exits 1");
	like($err, qr/^\Q$f\E$c->[1]/m, "$c->[2]: FILE:LINE:COL and the message") or diag($err);
}

# every error at once
my ($rc, $err, $f) = check("/ip proxy access\nadd dst-host=:(\nadd src-address=x\nadd dst-port=a\n");
is($rc, 1, 'three bad rules: exit 1');
is(scalar(() = $err =~ /^\Q$f\E:\d+:\d+: /mg), 3, 'all three are reported') or diag($err);

# a good list loads without warnings
($rc, $err, $f) = check("/ip proxy access\nadd dst-host=*.example src-address=10.0.0.0/8 " .
    "dst-port=80,8080-8090 method=get,head path=:^/x action=deny redirect-to=http://a/\n");
is($rc, 0, 'a rule using every classifier loads') or diag($err);
is($err, '', 'no warnings') or diag($err);

# a daemon with a broken rule does not start
{
	my $v = start_viaduct(conf => Viaduct::Test::default_conf() .
	    "/ip proxy access\nadd path=:(( action=deny\n", no_wait => 1);
	my $done = wait_until(sub { !alive($v->pid) }, 10);
	ok($done, 'viaduct with a bad regex exits');
	like(slurp($v->{log}) // '', qr/viaduct\.conf:7:11: missing closing parenthesis at offset 2/,
	    'and says where');
}

# HUP with a broken rule: keep serving with the old rules
{
	my $origin = Viaduct::Origin->new;
	my $op = $origin->port;
	my $base = Viaduct::Test::default_conf();
	my $v = start_viaduct(conf => $base . "/ip proxy access\nadd path=/deny action=deny\n");
	my $get = sub {
		my $r = http_get($v->port, "http://127.0.0.1:$op$_[0]");
		defined $r && $r =~ m{^HTTP/1\.1 (\d+)} ? $1 : 'none';
	};
	is($get->('/deny'), 403, 'rule enforced before the reload');
	$v->write_conf($base . "/ip proxy access\nadd path=:[ action=deny\n");
	$v->signal('HUP');
	ok($v->wait_log(qr/missing terminating \]/), 'the reload error is logged');
	is($get->('/deny'), 403, 'the old rules still apply after a failed reload');
	is($get->('/allow'), 200, 'and other requests still pass');
}

done_testing();
