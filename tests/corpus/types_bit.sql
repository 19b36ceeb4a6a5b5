-- BIT columns and bit literals: storage, display (the text protocol
-- sends the raw bytes), arithmetic, bit operations and range errors.

CREATE TABLE b (id INT PRIMARY KEY, b1 BIT(1), b8 BIT(8), b64 BIT(64));
INSERT INTO b VALUES (1, b'1', b'10101010', b'1');
INSERT INTO b VALUES (2, 0, 255, 18446744073709551615);
INSERT INTO b VALUES (3, 1, 0x0F, 0);
INSERT INTO b VALUES (4, NULL, NULL, NULL);
INSERT INTO b VALUES (5, 2, 0, 0);
INSERT INTO b VALUES (6, 0, 256, 0);
INSERT INTO b VALUES (7, b'11', 0, 0);
SELECT id, b1 + 0, b8 + 0, b64 + 0 FROM b ORDER BY id;
SELECT id, BIN(b8), HEX(b8), OCT(b8) FROM b ORDER BY id;
SELECT id, HEX(b1), HEX(b64) FROM b ORDER BY id;
SELECT id, b8 FROM b ORDER BY id;
SELECT id FROM b WHERE b1 = 1;
SELECT id FROM b WHERE b8 = b'10101010';
SELECT id FROM b WHERE b8 > 100;
SELECT SUM(b8), MAX(b8) + 0, BIT_OR(b8), BIT_AND(b8), BIT_XOR(b8) FROM b;
SELECT id, b8 & 0x0F, b8 | 1, b8 ^ 255, ~b8 & 255, b8 >> 1, b8 << 1 FROM b WHERE id <= 3 ORDER BY id;
SELECT BIT_COUNT(b8), BIT_COUNT(255), BIT_COUNT(-1) FROM b WHERE id = 1;
SELECT b'1010' + 0, b'1010', 0b1010 + 0, X'41', 0x41, x'4142' + 0;
SELECT HEX(b'1010'), CAST(b'01000001' AS CHAR), b'01000001' = 'A';
SELECT 5 & 3, 5 | 3, 5 ^ 3, ~0, 1 << 63, 1 << 64, 255 >> 4, -1 >> 60;
SELECT BIN(12), OCT(8), HEX(255), CONV('ff', 16, 10), CONV(10, 10, 2), CONV('z', 36, 10), CONV('-1', 10, 16);
UPDATE b SET b8 = b8 + 1 WHERE id = 3;
SELECT b8 + 0 FROM b WHERE id = 3;
UPDATE b SET b8 = b8 + 1 WHERE id = 2;
UPDATE b SET b1 = NOT b1 WHERE id IN (1, 3);
SELECT id, b1 + 0 FROM b WHERE id IN (1, 3) ORDER BY id;
-- @ordered
SHOW COLUMNS FROM b;
SHOW CREATE TABLE b;
SELECT column_name, data_type, column_type, numeric_precision FROM information_schema.columns WHERE table_schema = DATABASE() AND table_name = 'b' ORDER BY ordinal_position;
CREATE TABLE bd (id INT PRIMARY KEY, flags BIT(4) NOT NULL DEFAULT b'0101');
INSERT INTO bd (id) VALUES (1);
SELECT flags + 0, BIN(flags) FROM bd;
CREATE TABLE bad (a BIT(65));
CREATE TABLE bz (a BIT);
-- @ordered
SHOW COLUMNS FROM bz;
INSERT INTO bz VALUES (1), (0);
SELECT a + 0 FROM bz ORDER BY a;
SELECT CAST(b8 AS UNSIGNED), CAST(b8 AS CHAR) = CHAR(170) FROM b WHERE id = 1;
SELECT id FROM b WHERE b8 IN (b'1111', 170);
SELECT b8 + 0 AS v FROM b WHERE id IN (1, 2, 3) ORDER BY b8;
SELECT 0x10 + 0, 0x7FFFFFFFFFFFFFFF + 0, 0xFFFFFFFFFFFFFFFF + 0;
INSERT INTO b VALUES (8, 'a', 0, 0);
SELECT b1 + 0 FROM b WHERE id = 8;
