"""Personnel transfer (人员调转, admin manual 5.1.6): a person moves from one unit to another unit of the province."""
