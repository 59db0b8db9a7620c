"""Support shared by the tests and the benchmarks: real parts started on this machine.

:mod:`testsupport.tansu` starts a local Kafka-protocol broker (Tansu) on a free loopback
port. Nothing here is shipped in the wheel.
"""
