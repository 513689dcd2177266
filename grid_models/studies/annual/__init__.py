"""A year hour by hour at the point of interconnection.

- ``loads``: a profile applied to the grid's loads and shunts;
- ``dispatch``: the hourly merit order;
- ``hours``: one hour's operating point in AC, with and without the facility;
- ``screening``: which (hour, outage) pairs an AC solve must confirm;
- ``headroom``: the hour's headroom, estimated and searched exactly;
- ``block``: a block of hours, the unit of work a study is cut into;
- ``curtailment``: what a flexible campus gives up, and the curtailment-enabled headroom.
"""
