using System.Buffers.Binary;
using CsCheck;

namespace NwFilter.Fuzz;

/// <summary>One frame for the learning decoder, and the VM's MAC it is decoded for.</summary>
public sealed record FrameInput(byte[] Frame, ulong VmMac, string Shape)
{
    public override string ToString() => $"{Shape} vm={VmMac:x12} frame={Convert.ToHexString(Frame)}";
}

/// <summary>
/// Ethernet frames as the IP learner sees them (Learning/FrameDecoder.cs): built layer by layer, VLAN tags, IPv4
/// with options and fragments, UDP, DHCP with random options (overlong, truncated, overload), ARP, IPv6 with
/// extension headers, NDP, DHCPv6 with nested IA options; then broken: truncated, bit-flipped, a length field
/// set to a random value, padded with garbage.
/// </summary>
public static class Frames
{
    public static Gen<FrameInput> All { get; } = new GenFrom<FrameInput>(Make, f => f.Frame.Length);

    private static readonly byte[] VmMacBytes = [0x52, 0x54, 0x00, 0x12, 0x34, 0x56];
    private static readonly ulong VmMac = 0x525400123456;

    private static FrameInput Make(PCG pcg)
    {
        var fromVm = pcg.Chance(50);
        var kind = pcg.Int(7);
        var frame = new List<byte>();
        byte[] other = pcg.Chance(80) ? [0x52, 0x54, 0x00, 0xaa, 0xbb, 0xcc] : pcg.Bytes(6);
        byte[] dst = fromVm ? other : pcg.Chance(30) ? [0xff, 0xff, 0xff, 0xff, 0xff, 0xff] : VmMacBytes;
        frame.AddRange(dst);
        frame.AddRange(fromVm ? VmMacBytes : other);
        var tags = pcg.Int(10) switch { < 7 => 0, < 9 => 1, _ => pcg.Int(2, 4) };
        for (var t = 0; t < tags; t++)
        {
            U16(frame, pcg.Chance(50) ? 0x8100 : 0x88a8);
            U16(frame, (ushort)pcg.Next());
        }
        string shape;
        switch (kind)
        {
            case 0 or 1:
                U16(frame, 0x0800);
                frame.AddRange(IPv4(pcg, 17, Udp(pcg, fromVm ? (ushort)68 : (ushort)67, fromVm ? (ushort)67 : (ushort)68, Dhcp(pcg, fromVm))));
                shape = "dhcp";
                break;
            case 2:
                U16(frame, 0x0800);
                frame.AddRange(IPv4(pcg, pcg.Chance(50) ? (byte)17 : (byte)pcg.Next(), pcg.Bytes(pcg.Int(0, 64))));
                shape = "ipv4";
                break;
            case 3:
                U16(frame, 0x0806);
                frame.AddRange(Arp(pcg, fromVm));
                shape = "arp";
                break;
            case 4:
                U16(frame, 0x86dd);
                frame.AddRange(IPv6(pcg, Ndp(pcg), 58));
                shape = "ndp";
                break;
            case 5:
                U16(frame, 0x86dd);
                frame.AddRange(IPv6(pcg, Udp(pcg, 547, 546, Dhcpv6(pcg)), 17));
                shape = "dhcpv6";
                break;
            default:
                U16(frame, pcg.Chance(50) ? (ushort)pcg.Next() : pcg.Pick<ushort>([0x0800, 0x0806, 0x86dd, 0x8100, 0x88a8]));
                frame.AddRange(pcg.Bytes(pcg.Int(0, 200)));
                shape = "random";
                break;
        }
        var bytes = frame.ToArray();
        var damage = pcg.Int(10) switch { < 4 => 0, < 8 => 1, _ => pcg.Int(2, 6) };
        for (var i = 0; i < damage; i++)
        {
            (bytes, var name) = Damage(pcg, bytes);
            shape += "+" + name;
        }
        return new FrameInput(bytes, pcg.Chance(95) ? VmMac : pcg.Next64(), shape);
    }

    private static (byte[], string) Damage(PCG pcg, byte[] b)
    {
        switch (pcg.Int(5))
        {
            case 0:
                return (b[..pcg.Int(b.Length + 1)], "truncate");
            case 1:
                if (b.Length > 0)
                {
                    b[pcg.Int(b.Length)] ^= (byte)(1 << pcg.Int(8));
                }
                return (b, "bitflip");
            case 2:
                if (b.Length > 1)
                {
                    var at = pcg.Int(b.Length - 1);
                    BinaryPrimitives.WriteUInt16BigEndian(b.AsSpan(at), pcg.Pick<ushort>([0, 1, 7, 8, 0xff, 0xffff, (ushort)pcg.Next()]));
                }
                return (b, "length");
            case 3:
                return ([.. b, .. pcg.Bytes(pcg.Int(1, 1500))], "pad");
            default:
                if (b.Length > 0)
                {
                    b[pcg.Int(b.Length)] = (byte)pcg.Next();
                }
                return (b, "byte");
        }
    }

    private static void U16(List<byte> b, int v)
    {
        b.Add((byte)(v >> 8));
        b.Add((byte)v);
    }

    private static void U32(List<byte> b, uint v)
    {
        U16(b, (int)(v >> 16));
        U16(b, (int)(v & 0xffff));
    }

    private static byte[] IPv4(PCG pcg, byte protocol, byte[] payload)
    {
        var optionWords = pcg.Chance(80) ? 0 : pcg.Int(1, 10);
        var header = 20 + optionWords * 4;
        var p = new List<byte> { (byte)(0x40 | (header / 4)), 0 };
        var total = header + payload.Length;
        U16(p, pcg.Chance(90) ? total : (ushort)pcg.Next());
        U16(p, (ushort)pcg.Next());
        U16(p, pcg.Chance(85) ? 0 : (ushort)pcg.Next()); // flags, fragment offset
        p.Add(64);
        p.Add(protocol);
        U16(p, 0);
        p.AddRange(pcg.Chance(50) ? [10, 0, 0, (byte)pcg.Int(1, 254)] : pcg.Bytes(4));
        p.AddRange(pcg.Chance(50) ? [255, 255, 255, 255] : pcg.Bytes(4));
        p.AddRange(pcg.Bytes(optionWords * 4));
        p.AddRange(payload);
        return [.. p];
    }

    private static byte[] Udp(PCG pcg, ushort source, ushort destination, byte[] payload)
    {
        var u = new List<byte>();
        U16(u, pcg.Chance(95) ? source : (ushort)pcg.Next());
        U16(u, pcg.Chance(95) ? destination : (ushort)pcg.Next());
        U16(u, pcg.Chance(90) ? 8 + payload.Length : (ushort)pcg.Next());
        U16(u, 0);
        u.AddRange(payload);
        return [.. u];
    }

    private static byte[] Dhcp(PCG pcg, bool fromVm)
    {
        var d = new byte[236];
        d[0] = pcg.Chance(90) ? (byte)(fromVm ? 1 : 2) : (byte)pcg.Next();
        d[1] = pcg.Chance(95) ? (byte)1 : (byte)pcg.Next();
        d[2] = pcg.Chance(95) ? (byte)6 : (byte)pcg.Next();
        pcg.Bytes(4).CopyTo(d, 4);
        (pcg.Chance(50) ? pcg.Bytes(4) : new byte[4]).CopyTo(d, 12);
        pcg.Bytes(4).CopyTo(d, 16);
        (pcg.Chance(90) ? VmMacBytes : pcg.Bytes(6)).CopyTo(d, 28);
        var overload = pcg.Chance(20);
        if (overload)
        {
            Options(pcg).Take(64).ToArray().CopyTo(d, 44);   // sname
            Options(pcg).Take(128).ToArray().CopyTo(d, 108); // file
        }
        var m = new List<byte>(d);
        U32(m, pcg.Chance(95) ? 0x63825363 : pcg.Next());
        if (overload)
        {
            m.AddRange([52, 1, (byte)pcg.Int(0, 3)]);
        }
        m.AddRange(Options(pcg));
        return [.. m];
    }

    private static List<byte> Options(PCG pcg)
    {
        var o = new List<byte>();
        var n = pcg.Int(0, 12);
        for (var i = 0; i < n; i++)
        {
            var code = pcg.Pick<byte>([53, 53, 51, 54, 50, 52, 1, 3, 6, 12, 61, 0, 255, (byte)pcg.Next()]);
            o.Add(code);
            if (code is 0 or 255 && pcg.Chance(80))
            {
                continue;
            }
            var natural = code switch { 53 => 1, 51 or 54 or 50 or 1 or 3 => 4, 52 => 1, _ => pcg.Int(0, 20) };
            var length = pcg.Chance(85) ? natural : pcg.Int(0, 255);
            o.Add((byte)length);
            o.AddRange(code == 53 && length == 1 && pcg.Chance(80) ? [(byte)pcg.Int(1, 8)] : pcg.Bytes(pcg.Chance(90) ? length : pcg.Int(0, length)));
        }
        if (pcg.Chance(80))
        {
            o.Add(255);
        }
        return o;
    }

    private static byte[] Arp(PCG pcg, bool fromVm)
    {
        var a = new List<byte>();
        U16(a, pcg.Chance(95) ? 1 : (ushort)pcg.Next());
        U16(a, pcg.Chance(95) ? 0x0800 : (ushort)pcg.Next());
        a.Add(pcg.Chance(95) ? (byte)6 : (byte)pcg.Next());
        a.Add(pcg.Chance(95) ? (byte)4 : (byte)pcg.Next());
        U16(a, pcg.Int(0, 3));
        a.AddRange(fromVm && pcg.Chance(90) ? VmMacBytes : pcg.Bytes(6));
        a.AddRange(pcg.Chance(10) ? new byte[4] : pcg.Bytes(4));
        a.AddRange(pcg.Bytes(10));
        return [.. a];
    }

    private static byte[] IPv6(PCG pcg, byte[] upper, byte upperProtocol)
    {
        var ext = new List<byte>();
        var headers = pcg.Chance(70) ? 0 : pcg.Int(1, 10);
        var chain = new List<byte>();
        for (var i = 0; i < headers; i++)
        {
            chain.Add(pcg.Pick<byte>([0, 43, 60, 44]));
        }
        chain.Add(upperProtocol);
        for (var i = 0; i < headers; i++)
        {
            var type = chain[i];
            ext.Add(chain[i + 1]);
            if (type == 44)
            {
                ext.Add(0);
                U16(ext, pcg.Chance(70) ? 0 : (ushort)pcg.Next());
                ext.AddRange(pcg.Bytes(4));
            }
            else
            {
                var units = pcg.Chance(90) ? pcg.Int(0, 3) : pcg.Int(0, 255);
                ext.Add((byte)units);
                ext.AddRange(pcg.Bytes(pcg.Chance(90) ? 6 + units * 8 : pcg.Int(0, 40)));
            }
        }
        var payload = ext.Concat(upper).ToArray();
        var p = new List<byte> { 0x60, 0, 0, 0 };
        U16(p, pcg.Chance(90) ? payload.Length : (ushort)pcg.Next());
        p.Add(headers > 0 ? chain[0] : upperProtocol);
        p.Add(pcg.Chance(80) ? (byte)255 : (byte)pcg.Next());
        p.AddRange(pcg.Chance(30) ? new byte[16] : pcg.Bytes(16)); // the unspecified source of DAD, or any
        p.AddRange(pcg.Bytes(16));
        p.AddRange(payload);
        return [.. p];
    }

    private static byte[] Ndp(PCG pcg)
    {
        // Advertisements, duplicate address detection solicitations (issue 15) and anything else.
        var type = pcg.Int(10) switch { < 5 => (byte)136, < 8 => (byte)135, _ => (byte)pcg.Next() };
        var n = new List<byte> { type, pcg.Chance(90) ? (byte)0 : (byte)pcg.Next(), 0, 0, 0x60, 0, 0, 0 };
        // Targets that must never be learned, beside random ones: multicast, ::, ::1, IPv4-mapped, link-local.
        n.AddRange(pcg.Int(8) switch
        {
            0 => [0xff, 0x02, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            1 => new byte[16],
            2 => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1],
            3 => [0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 10, 0, 0, 1],
            4 => [0xfe, 0x80, 0, 0, 0, 0, 0, 0, .. pcg.Bytes(8)],
            _ => pcg.Bytes(16),
        });
        n.AddRange(pcg.Bytes(pcg.Int(0, 16)));
        return [.. n];
    }

    private static byte[] Dhcpv6(PCG pcg)
    {
        var d = new List<byte> { pcg.Chance(85) ? (byte)7 : (byte)pcg.Next() };
        d.AddRange(pcg.Bytes(3));
        var n = pcg.Int(0, 5);
        for (var i = 0; i < n; i++)
        {
            d.AddRange(Dhcpv6Option(pcg, depth: 0));
        }
        return [.. d];
    }

    private static List<byte> Dhcpv6Option(PCG pcg, int depth)
    {
        var code = pcg.Int(4) switch { 0 or 1 => depth == 0 ? 3 : 5, 2 => pcg.Int(1, 20), _ => pcg.Int(0, 65535) };
        var value = new List<byte>();
        if (code == 3)
        {
            value.AddRange(pcg.Bytes(12));
            var subs = depth < 3 ? pcg.Int(0, 4) : 0;
            for (var i = 0; i < subs; i++)
            {
                value.AddRange(Dhcpv6Option(pcg, depth + 1));
            }
        }
        else if (code == 5)
        {
            value.AddRange(pcg.Bytes(24));
            if (pcg.Chance(20))
            {
                value.AddRange(Dhcpv6Option(pcg, depth + 1));
            }
        }
        else
        {
            value.AddRange(pcg.Bytes(pcg.Int(0, 30)));
        }
        var o = new List<byte>();
        U16(o, code);
        U16(o, pcg.Chance(90) ? value.Count : pcg.Int(0, 65535));
        o.AddRange(value);
        return o;
    }
}
