"""Cluster parameters across obcp: reading every server's values, the change records in the metadb, which
servers still have to restart for a static parameter, OCP's JSON shapes, and applying a change whole."""
