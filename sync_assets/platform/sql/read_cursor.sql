SELECT cursor FROM sync.cursors WHERE connector = %(connector)s AND partition_key = %(partition_key)s;
