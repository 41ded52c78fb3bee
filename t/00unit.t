#!/usr/bin/perl
# Runs every C unit program (TAP) as a subtest, so that one `prove -r t`
# covers unit and integration tests alike (h2o's exec_unittest).
use strict;
use warnings;
use Test::More;

my $top = $ENV{VIADUCT_BUILD} // '.';
my @progs = sort grep { -x $_ && !/\.\w+$/ } glob("$top/t/unit/*");
ok(@progs > 0, "unit programs are built (make check)") or BAIL_OUT("no unit programs under $top/t/unit");
for my $p (@progs) {
	my $name = $p =~ s{.*/}{}r;
	subtest "unit/$name" => sub {
		my $out = `$p 2>&1`;
		my $st = $?;
		my ($plan) = $out =~ /^1\.\.(\d+)$/m;
		my @not = $out =~ /^(not ok .*)$/mg;
		ok(defined $plan && $plan > 0, "$name printed a plan") or diag($out);
		is(scalar(@not), 0, "$name: no failing case") or diag(join("\n", @not) . "\n$out");
		is($st, 0, "$name exited 0") or diag($out);
	};
}
done_testing();
