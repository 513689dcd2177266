function mpc = case3
% three buses; a comment with 'quotes' and a [bracket
mpc.version = '2';
mpc.baseMVA = 100;
%% bus data
mpc.bus = [
	1	3	0	0	0	0	1	1.02	0	230	1	1.1	0.9;
	2	1	90	30	0	0	1	1	0	230	1	1.1	0.9;   % load bus
	3	2	0	0	0	0	1	1.01	0	230	1	1.1	0.9
];
mpc.gen = [
	1	0	0	300	-300	1.02	100	1	250	10;
	3	80	0	300	-300	1.01	100	1	270	10;
];
mpc.branch = [
	1	2	0.01	0.085	0.176	250	250	250	0	0	1	-360	360;
	2	3	0.017	0.092	0.158	250	250	250	0	0	1	-360	360;
	1	3	0.0039	0.0170	0	200	0	0	0	0	1	-360	360;
];
mpc.gencost = [
	2	0	0	3	0.11	5	150;
	2	0	0	3	0.085	1.2	600;
];
mpc.bus_name = {
	'NORTH 0';
	'CENTER % not a comment';
	'SOUTH''S END';
};
mpc.genfuel = { 'ng'; 'coal'; };
