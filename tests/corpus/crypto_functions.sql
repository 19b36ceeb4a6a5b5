-- Hash and crypto functions: MD5, SHA1, SHA2, CRC32, AES, hex/base64
-- round trips, PASSWORD-style helpers, RANDOM_BYTES wrapped.

SELECT MD5('hello'), MD5(''), MD5(NULL), MD5(123), MD5('é');
SELECT SHA1('hello'), SHA('hello'), SHA1(''), SHA1(NULL);
SELECT SHA2('hello', 224), SHA2('hello', 256), SHA2('hello', 384), SHA2('hello', 512), SHA2('hello', 0);
SELECT SHA2('hello', 123), SHA2(NULL, 256), SHA2('', 256);
SELECT LENGTH(MD5('x')), LENGTH(SHA1('x')), LENGTH(SHA2('x', 512)), CHARSET(MD5('x')), COLLATION(SHA1('x'));
SELECT MD5('hello') = md5('hello'), UPPER(MD5('a')) = MD5('a'), MD5('A') = MD5('a');
SELECT CRC32('The quick brown fox'), CRC32(1), CRC32('');
SELECT HEX(AES_ENCRYPT('secret', 'key')), AES_DECRYPT(AES_ENCRYPT('secret', 'key'), 'key');
SELECT AES_DECRYPT(AES_ENCRYPT('secret', 'key'), 'wrong');
SELECT LENGTH(AES_ENCRYPT('', 'k')), LENGTH(AES_ENCRYPT('0123456789abcdef', 'k')), AES_ENCRYPT(NULL, 'k');
SELECT HEX(AES_ENCRYPT('text', SHA2('passphrase', 512)));
SELECT LENGTH(RANDOM_BYTES(16)), RANDOM_BYTES(16) <> RANDOM_BYTES(16);
SELECT RANDOM_BYTES(0);
SELECT TO_BASE64(UNHEX(SHA2('abc', 256))), HEX(FROM_BASE64(TO_BASE64('round trip')));
SELECT HEX(UNHEX(MD5('x'))) = UPPER(MD5('x')), LENGTH(UNHEX(SHA1('x')));
SELECT PASSWORD('secret'), OLD_PASSWORD('secret');
SELECT ENCODE('abc', 'k') IS NOT NULL, DECODE(ENCODE('abc', 'k'), 'k');
SELECT DES_ENCRYPT('x') IS NULL;
SELECT HEX(ENCRYPT('x', 'ab')) IS NOT NULL;
SELECT UNCOMPRESS(COMPRESS('hello hello hello')), UNCOMPRESSED_LENGTH(COMPRESS(REPEAT('a', 1000))), COMPRESS(NULL), HEX(COMPRESS(''));
CREATE TABLE users (id INT PRIMARY KEY, login VARCHAR(20), pwhash CHAR(64), token BINARY(16));
INSERT INTO users VALUES (1, 'ann', SHA2(CONCAT('salt1', 'pw-ann'), 256), UNHEX(MD5('ann'))), (2, 'bob', SHA2(CONCAT('salt2', 'pw-bob'), 256), UNHEX(MD5('bob')));
SELECT id, pwhash FROM users ORDER BY id;
SELECT id FROM users WHERE pwhash = SHA2(CONCAT('salt1', 'pw-ann'), 256);
SELECT id FROM users WHERE pwhash = SHA2(CONCAT('salt1', 'wrong'), 256);
SELECT id, HEX(token), LENGTH(token) FROM users ORDER BY id;
SELECT id FROM users WHERE token = UNHEX(MD5('bob'));
SELECT id, MD5(login), SHA1(login), CRC32(login) FROM users ORDER BY id;
SELECT login, LEFT(SHA2(login, 256), 8) FROM users ORDER BY SHA2(login, 256);
UPDATE users SET pwhash = SHA2('new', 256) WHERE id = 2;
SELECT pwhash = SHA2('new', 256) FROM users WHERE id = 2;
SELECT MD5(CONCAT_WS(':', id, login)) FROM users ORDER BY id;
SELECT BIT_XOR(CRC32(login)) FROM users;
SELECT SHA2(REPEAT('a', 10000), 256), MD5(REPEAT(X'00', 1000));
